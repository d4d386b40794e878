package io.kvpod.contract;

import java.util.ArrayList;
import java.util.List;

/**
 * Which pod holds each bucket of a table that started with {@code pods} pods, before any
 * holder record exists (its <em>first holder</em>), and which pod each bucket belongs to
 * until pods join or leave ({@link Membership} keeps the homes after that). The pods, the
 * Java client and the tools share this one function, so they agree on a fresh table's layout
 * without talking:
 *
 * <pre>
 *   home(bucket, pods) = bucket mod pods
 * </pre>
 *
 * Balanced to within one bucket: each pod is home to {@code floor(B/pods)} or
 * {@code ceil(B/pods)} of a table's {@code B} buckets. With one bucket per pod
 * ({@code B == pods}), bucket {@code b}'s home is pod {@code b}, which is the layout of
 * tables made before the bucket count was a table setting. A key's bucket is
 * {@link KeyPartitioner#bucket}{@code (key, B)}. Stateless and thread-safe.
 */
public final class BucketHomes {
  private BucketHomes() {}

  /** The home pod of {@code bucket} among {@code pods} pods. */
  public static int home(int bucket, int pods) {
    if (bucket < 0 || pods <= 0) {
      throw new IllegalArgumentException("need bucket >= 0 and pods > 0, got bucket " + bucket + ", pods " + pods);
    }
    return bucket % pods;
  }

  /** The buckets, of {@code buckets}, whose home is {@code pod}, in increasing order. */
  public static List<Integer> homedAt(int pod, int buckets, int pods) {
    List<Integer> out = new ArrayList<>();
    for (int b = pod; b < buckets; b += pods) {
      out.add(b);
    }
    return out;
  }
}
