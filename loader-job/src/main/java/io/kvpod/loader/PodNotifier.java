package io.kvpod.loader;

import io.kvpod.contract.Limits;
import io.kvpod.contract.PeerSigner;
import io.kvpod.thrift.KvPod;
import io.kvpod.thrift.internal.PeerRequest;
import io.kvpod.thrift.internal.PeerResponse;
import io.kvpod.thrift.internal.RefreshRequest;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import org.apache.thrift.TConfiguration;
import org.apache.thrift.TException;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.transport.TSocket;
import org.apache.thrift.transport.layered.TFramedTransport;

/**
 * Tells running pods to re-read a table's layers at once, after a publish or rollback,
 * with a signed refresh message through {@code process()}. Best effort: a pod that cannot
 * be told picks the change up at its next poll, so failures are reported, not fatal.
 */
final class PodNotifier {
  private PodNotifier() {}

  /** Returns how many pods confirmed the refresh. */
  static int refresh(String podsCsv, String secret, String table, int timeoutMs, PrintStream out) {
    PeerSigner signer = PeerSigner.tool(secret);
    int ok = 0;
    String[] list = podsCsv.split(",");
    for (int pod = 0; pod < list.length; pod++) {
      String addr = list[pod].trim();
      int colon = addr.lastIndexOf(':');
      if (colon <= 0) {
        out.printf("[notify] skipping bad pod address '%s'%n", addr);
        continue;
      }
      TConfiguration cfg = TConfiguration.custom().setMaxFrameSize(Limits.MAX_FRAME_BYTES).build();
      try (TFramedTransport t = new TFramedTransport(new TSocket(cfg, addr.substring(0, colon),
          Integer.parseInt(addr.substring(colon + 1)), timeoutMs, timeoutMs))) {
        t.open();
        KvPod.Client c = new KvPod.Client(new TBinaryProtocol(t));
        PeerSigner.Sealed sealed = signer.seal(PeerRequest.refresh(new RefreshRequest().setTable(table)), pod, table);
        ByteBuffer r = c.process(ByteBuffer.wrap(sealed.bytes()));
        byte[] b = new byte[r.remaining()];
        r.get(b);
        PeerResponse resp = signer.openReply(sealed, b);
        out.printf("[notify] pod %s now serves %d layers%n", addr, resp.getRefresh().getLayerIdsSize());
        ok++;
      } catch (TException | RuntimeException e) {
        out.printf("[notify] pod %s was not told (%s); it will notice at its next poll%n", addr, e);
      }
    }
    return ok;
  }
}
