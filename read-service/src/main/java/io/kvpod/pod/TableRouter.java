package io.kvpod.pod;

import io.kvpod.contract.ContractViolation;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import io.kvpod.thrift.Lookup;
import io.kvpod.thrift.PodStatus;
import io.kvpod.thrift.Record;
import io.kvpod.thrift.WriteOptions;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The KvPod API of a pod process: hands each call to the {@link PodService} of the table it
 * names, and each signed pod-to-pod message, once opened, to that table's
 * {@link PeerDispatcher}. A call that names no table (as the seed's calls do), or names
 * {@code ""}, is about the pod's default table, the first of {@code kvpod.table}; a table the
 * pod does not serve is refused with {@code INVALID_ARGUMENT}.
 *
 * <p>Owns the opening of signed messages ({@link PeerSigner#open}): one signer per process, so
 * that one replay window covers every table. Thread-safe; the set of tables is fixed at
 * construction.
 */
final class TableRouter implements KvPod.Iface {
  private static final Logger LOG = LoggerFactory.getLogger(TableRouter.class);

  /** Each table's parts, by name, in the order the pod serves them (the default first). */
  private final Map<String, TablePod> tables;
  private final TablePod defaultTable;
  private final List<String> names;
  private final PeerSigner signer;
  /** Adds what the pod process has, not its tables (its HTTP port), to a status answer. */
  private final Consumer<PodStatus> podStatus;
  /** Refused internal messages, logged at most once a second. */
  private final LogThrottle refused = new LogThrottle(1, TimeUnit.SECONDS);

  /**
   * @param tables    at least one; iteration order puts the default table first
   * @param podStatus adds the process's own figures to each status answer
   */
  TableRouter(Map<String, TablePod> tables, PeerSigner signer, Consumer<PodStatus> podStatus) {
    if (tables.isEmpty()) {
      throw new IllegalArgumentException("a pod serves at least one table");
    }
    this.tables = Map.copyOf(tables);
    this.defaultTable = tables.values().iterator().next();
    this.signer = signer;
    this.podStatus = podStatus;
    this.names = List.copyOf(tables.keySet());
  }

  /** The parts of {@code table} (null or "": the default table); {@code INVALID_ARGUMENT} if not served here. */
  TablePod table(String table) {
    if (table == null || table.isEmpty()) {
      return defaultTable;
    }
    TablePod t = tables.get(table);
    if (t == null) {
      throw new ContractViolation(ErrorCode.INVALID_ARGUMENT, "this pod does not serve table '" + table
          + "'; it serves " + names);
    }
    return t;
  }

  private PodService service(String table) throws KvPodException {
    try {
      return table(table).service();
    } catch (ContractViolation e) {
      throw Errors.from(e);
    }
  }

  @Override
  public Map<String, String> get(String key, String table) throws KvPodException {
    return service(table).get(key);
  }

  @Override
  public Lookup getRecord(String key, String table) throws KvPodException {
    return service(table).getRecord(key);
  }

  @Override
  public Map<String, Record> multiGetRecords(List<String> keys, String table) throws KvPodException {
    return service(table).multiGetRecords(keys);
  }

  @Override
  public boolean put(String key, Map<String, String> value, WriteOptions options, String table)
      throws KvPodException {
    return service(table).put(key, value, options);
  }

  @Override
  public boolean batchPut(Map<String, Map<String, String>> records, WriteOptions options, String table)
      throws KvPodException {
    return service(table).batchPut(records, options);
  }

  @Override
  public Map<String, Map<String, String>> multiGet(List<String> keys, String table) throws KvPodException {
    return service(table).multiGet(keys);
  }

  @Override
  public List<ByteBuffer> multiGetEncoded(List<String> keys, String table) throws KvPodException {
    return service(table).multiGetEncoded(keys);
  }

  @Override
  public boolean batchPutEncoded(Map<String, ByteBuffer> records, WriteOptions options, String table)
      throws KvPodException {
    return service(table).batchPutEncoded(records, options);
  }

  @Override
  public boolean remove(String key, WriteOptions options, String table) throws KvPodException {
    return service(table).remove(key, options);
  }

  @Override
  public ByteBuffer process(ByteBuffer input) throws KvPodException {
    return internal("process", input, false);
  }

  @Override
  public ByteBuffer heartbeat(ByteBuffer input) throws KvPodException {
    return internal("heartbeat", input, true);
  }

  /** Opens a signed message and hands it to the dispatcher of the table it is about. */
  private ByteBuffer internal(String call, ByteBuffer input, boolean heartbeat) throws KvPodException {
    try {
      if (input == null) {
        throw new ContractViolation(ErrorCode.UNAUTHENTICATED, call + "() needs a signed message");
      }
      byte[] in = new byte[input.remaining()];
      input.duplicate().get(in);
      PeerSigner.Opened opened = open(in);
      return ByteBuffer.wrap(table(opened.table()).peers().handle(opened, heartbeat));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Errors.of(ErrorCode.UNAVAILABLE, call + " interrupted: the pod is stopping", true);
    } catch (Exception e) {
      KvPodException k = Errors.from(e);
      if (k.getCode() == ErrorCode.INTERNAL || k.getCode() == ErrorCode.CORRUPTION) {
        LOG.error("{} failed", call, e);
      } else {
        LOG.debug("{} refused: {}", call, k.getMessage());
      }
      throw k;
    }
  }

  /**
   * {@link PeerSigner#open}, logging each refused message (at most one line a second, with a
   * count of those not logged): a refusal is a misconfigured tool, another version, or an
   * attack, and an operator should see it.
   */
  private PeerSigner.Opened open(byte[] input) {
    try {
      return signer.open(input);
    } catch (ContractViolation e) {
      long n = refused.count();
      if (n > 0) {
        LOG.warn("refused an internal message ({} refused so far): {}", n, e.getMessage());
      }
      throw e;
    }
  }

  @Override
  public PodStatus status(String table) throws KvPodException {
    PodStatus st = service(table).status();
    st.setTables(new ArrayList<>(names));
    podStatus.accept(st);
    return st;
  }

  @Override
  public void ping() {
    // a round trip and nothing else
  }
}
