package io.kvpod.pod;

import io.kvpod.contract.Limits;
import io.kvpod.thrift.ErrorCode;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.KvPodException;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.thrift.ProcessFunction;
import org.apache.thrift.TApplicationException;
import org.apache.thrift.TBase;
import org.apache.thrift.TException;
import org.apache.thrift.TFieldIdEnum;
import org.apache.thrift.TProcessor;
import org.apache.thrift.TSerializable;
import org.apache.thrift.protocol.TMessage;
import org.apache.thrift.protocol.TMessageType;
import org.apache.thrift.protocol.TProtocol;
import org.apache.thrift.protocol.TProtocolException;
import org.apache.thrift.transport.TTransport;
import org.apache.thrift.transport.TTransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the calls of the {@code KvPod} service, keeping the IDL's promise that every failure
 * of a call is a {@link KvPodException}: a request whose arguments cannot be decoded (a batch
 * over {@link Limits#MAX_BATCH}, a string that is not UTF-8, a negative size) is answered as
 * the method's {@code KvPodException} ({@code TOO_LARGE} or {@code INVALID_ARGUMENT}), where
 * libthrift's processor answers a {@code TApplicationException}; an unexpected exception in
 * the service is answered as {@code INTERNAL}. Only where the IDL leaves no room for a
 * {@code KvPodException} (an unknown method; {@code ping}, which declares none) is the answer
 * libthrift's {@code TApplicationException}. A transport error closes the connection. A request's frame
 * is always read to its end, so whatever a refused request left unread is never taken for
 * the connection's next request. Decoding takes from the pod's {@link DecodeBudget}; a call
 * that finds it spent is answered {@code BUSY} (retriable), and each call gives back what it
 * took once it is answered.
 *
 * <p>Thread-safe: it holds the service, immutable tables and a thread-safe refusal count.
 */
final class ContractProcessor implements TProcessor {
  private static final Logger LOG = LoggerFactory.getLogger(ContractProcessor.class);

  private final KvPod.Iface service;
  private final Map<String, ProcessFunction<KvPod.Iface, ? extends TBase>> functions;
  private final Map<String, Supplier<TBase<?, ?>>> emptyResults = new HashMap<>();
  private final LogThrottle refusals = new LogThrottle(1, java.util.concurrent.TimeUnit.SECONDS);
  private final PodMetrics metrics;

  ContractProcessor(KvPod.Iface service) {
    this(service, PodMetrics.inMemory());
  }

  /** Runs {@code service}'s calls, recording each in {@code metrics}. */
  ContractProcessor(KvPod.Iface service, PodMetrics metrics) {
    this.service = service;
    this.metrics = metrics;
    this.functions = new KvPod.Processor<>(service).getProcessMapView();
    for (String method : functions.keySet()) {
      Supplier<TBase<?, ?>> factory = resultFactory(method);
      if (factory != null) {
        emptyResults.put(method, factory);
      }
    }
  }

  @Override
  public void process(TProtocol in, TProtocol out) throws TException {
    processCall(in.readMessageBegin(), in, out);
  }

  /**
   * Runs the call whose message header {@code msg} was read from {@code in} already (by
   * {@link CallLanes}, to pick the thread that runs it): decodes the arguments, calls the
   * service and writes the answer to {@code out}. A {@code TTransportException} means the
   * frame could not be read: close the connection.
   */
  void processCall(TMessage msg, TProtocol in, TProtocol out) throws TException {
    long start = System.nanoTime();
    try {
      KvPodException error = processOne(msg, in, out);
      if (functions.containsKey(msg.name)) { // an unknown name is not a call: keep it out of the meters
        metrics.called(msg.name, System.nanoTime() - start, error);
      }
    } finally {
      if (in instanceof StrictBinaryProtocol strict) {
        strict.releaseDecoded(); // the call is answered (or the connection is lost): its arguments are garbage
      }
    }
  }

  /** Runs one call and answers it; returns the failure it was answered with, or null if it succeeded. */
  private KvPodException processOne(TMessage msg, TProtocol in, TProtocol out) throws TException {
    ProcessFunction<KvPod.Iface, ? extends TBase> fn = functions.get(msg.name);
    if (msg.type != TMessageType.CALL) { // kvpod has no oneway methods
      discardRestOfFrame(in);
      reply(out, msg.name, TMessageType.EXCEPTION, msg.seqid, new TApplicationException(
          TApplicationException.INVALID_MESSAGE_TYPE, "a pod takes calls only, not messages of type " + msg.type));
      return null; // not a call: not metered
    }
    if (fn == null) {
      discardRestOfFrame(in);
      reply(out, msg.name, TMessageType.EXCEPTION, msg.seqid, new TApplicationException(
          TApplicationException.UNKNOWN_METHOD, "unknown method '" + msg.name + "'"));
      return null; // not a call of the service: not metered
    }
    TBase<?, ?> args = fn.getEmptyArgsInstance();
    try {
      args.read(in);
    } catch (TProtocolException e) {
      discardRestOfFrame(in);
      KvPodException refused = refusal(msg.name, e);
      long n = refusals.count();
      if (n > 0) { // at most one line a second: a flood of bad calls must not flood the log
        LOG.warn("refused a {} call ({} refused so far): {}", msg.name, n, refused.getMessage());
      }
      answerRefused(msg, out, refused, TApplicationException.PROTOCOL_ERROR);
      return refused;
    }
    in.readMessageEnd();
    discardRestOfFrame(in);
    TSerializable result;
    byte type = TMessageType.REPLY;
    KvPodException error = null;
    try {
      TBase<?, ?> r = call(fn, args);
      error = declaredError(r);
      result = r;
    } catch (TTransportException e) {
      throw e;
    } catch (TApplicationException e) {
      LOG.error("application error in {}", msg.name, e);
      result = e;
      type = TMessageType.EXCEPTION;
      error = new KvPodException(ErrorCode.INTERNAL, "application error in " + msg.name + ": " + e.getMessage());
    } catch (TException | RuntimeException e) {
      LOG.error("internal error in {}", msg.name, e);
      Supplier<TBase<?, ?>> empty = emptyResults.get(msg.name);
      String what = "internal error in " + msg.name + ": " + e;
      if (empty == null) {
        result = new TApplicationException(TApplicationException.INTERNAL_ERROR, what);
        type = TMessageType.EXCEPTION;
      } else {
        result = failed(empty.get(), new KvPodException(ErrorCode.INTERNAL, what).setRetriable(false));
      }
      error = new KvPodException(ErrorCode.INTERNAL, what);
    }
    reply(out, msg.name, type, msg.seqid, result);
    return error;
  }

  /**
   * Answers the call whose header {@code msg} was read from {@code in} with {@code why},
   * without decoding its arguments or running it (a server's refusal, such as
   * {@code UNAUTHENTICATED}); the refusal is metered as the method's failure.
   */
  void refuseCall(TMessage msg, TProtocol in, TProtocol out, KvPodException why) throws TException {
    discardRestOfFrame(in);
    if (msg.type != TMessageType.CALL || !functions.containsKey(msg.name)) {
      processOne(msg, in, out); // answered as any message that is not a call of the service
      return;
    }
    answerRefused(msg, out, why, TApplicationException.UNKNOWN);
    metrics.called(msg.name, 0, why);
  }

  /**
   * Answers {@code msg} with {@code refused}: as the method's declared {@code KvPodException},
   * or, for a method that declares none, as libthrift would, a {@code TApplicationException}
   * of {@code applicationType}.
   */
  private void answerRefused(TMessage msg, TProtocol out, KvPodException refused, int applicationType)
      throws TException {
    Supplier<TBase<?, ?>> empty = emptyResults.get(msg.name);
    if (empty == null) {
      reply(out, msg.name, TMessageType.EXCEPTION, msg.seqid,
          new TApplicationException(applicationType, refused.getMessage()));
    } else {
      reply(out, msg.name, TMessageType.REPLY, msg.seqid, failed(empty.get(), refused));
    }
  }

  /** The {@link KvPodException} a call's {@code result} carries (field 1), or null. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static KvPodException declaredError(TBase result) {
    TFieldIdEnum field = result.fieldForId(1);
    return field != null && result.isSet(field) && result.getFieldValue(field) instanceof KvPodException e ? e : null;
  }

  /**
   * Drops what is left of the request's frame: the arguments after a refusal, or bytes after
   * a complete message. The server hands each connection one framed transport, so bytes left
   * unread would otherwise be taken as the start of the connection's next request.
   */
  private static void discardRestOfFrame(TProtocol in) {
    TTransport t = in.getTransport();
    int left = t.getBytesRemainingInBuffer();
    if (left > 0) {
      t.consumeBuffer(left);
    }
  }

  /** The {@link KvPodException} that answers arguments that could not be decoded. */
  static KvPodException refusal(String method, TProtocolException e) {
    if (e instanceof DecodeBudget.Exhausted) {
      return new KvPodException(ErrorCode.BUSY, method + ": " + e.getMessage()).setRetriable(true);
    }
    if (e.getType() == TProtocolException.SIZE_LIMIT) {
      return new KvPodException(ErrorCode.TOO_LARGE, method + ": " + e.getMessage()
          + " (a container holds at most MAX_BATCH=" + Limits.MAX_BATCH + " elements, a value at most MAX_FIELDS="
          + Limits.MAX_FIELDS + " fields, a string at most MAX_FRAME_BYTES=" + Limits.MAX_FRAME_BYTES + " bytes)")
          .setRetriable(false);
    }
    return new KvPodException(ErrorCode.INVALID_ARGUMENT, method + ": malformed arguments: "
        + e.getMessage()).setRetriable(false);
  }

  @SuppressWarnings("unchecked")
  private <A extends TBase> TBase<?, ?> call(ProcessFunction<KvPod.Iface, A> fn, TBase<?, ?> args)
      throws TException {
    return fn.getResult(service, (A) args);
  }

  /** {@code result} with its declared exception (field 1) set to {@code e}. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static TBase<?, ?> failed(TBase result, KvPodException e) {
    TFieldIdEnum field = result.fieldForId(1);
    result.setFieldValue(field, e);
    return result;
  }

  private static void reply(TProtocol out, String method, byte type, int seqid, TSerializable body)
      throws TException {
    out.writeMessageBegin(new TMessage(method, type, seqid));
    body.write(out);
    out.writeMessageEnd();
    out.getTransport().flush();
  }

  /**
   * Makes empty results of {@code method}: libthrift's Java generator names them
   * {@code KvPod.<method>_result}, and a method that throws declares {@code KvPodException e}
   * as field 1. Null for a method that declares no exception.
   */
  private static Supplier<TBase<?, ?>> resultFactory(String method) {
    String name = KvPod.class.getName() + "$" + method + "_result";
    try {
      var ctor = Class.forName(name).getDeclaredConstructor();
      TBase<?, ?> probe = (TBase<?, ?>) ctor.newInstance();
      if (probe.fieldForId(1) == null) {
        return null;
      }
      return () -> {
        try {
          return (TBase<?, ?>) ctor.newInstance();
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException("cannot make " + name, e);
        }
      };
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("no generated result class " + name + " for method " + method, e);
    }
  }
}
