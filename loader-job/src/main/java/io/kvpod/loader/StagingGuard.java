package io.kvpod.loader;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns a staging directory until it is published: on close, or when the JVM is stopped
 * (Ctrl-C, SIGTERM), an unpublished staging directory is deleted, so a failed or stopped
 * load leaves nothing behind. A load killed with SIGKILL leaves its staging directory,
 * invisible to readers, for {@code kvpod gc} to remove. Thread-safe.
 */
final class StagingGuard implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StagingGuard.class);

  private final FileSystem fs;
  private final Path stage;
  private final Thread hook;
  private boolean done;

  StagingGuard(FileSystem fs, Path stage) {
    this.fs = fs;
    this.stage = stage;
    this.hook = new Thread(this::cleanUp, "kvpod-staging-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Publishes by one atomic rename; after this the guard deletes nothing. */
  synchronized void publish(Path target) throws IOException {
    if (done) {
      throw new IOException("staging " + stage + " was already cleaned up");
    }
    fs.mkdirs(target.getParent());
    if (fs.exists(target)) {
      throw new IOException("cannot publish: " + target + " already exists");
    }
    if (!fs.rename(stage, target)) {
      throw new IOException("rename of " + stage + " to " + target + " failed");
    }
    done = true;
  }

  private synchronized void cleanUp() {
    if (done) {
      return;
    }
    done = true;
    try {
      if (fs.delete(stage, true)) {
        LOG.info("removed unpublished staging directory {}", stage);
      }
    } catch (IOException e) {
      LOG.warn("could not remove staging directory {}; kvpod gc will: {}", stage, e.toString());
    }
  }

  @Override
  public void close() {
    cleanUp();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down and the hook is running or has run: nothing to undo
    }
  }
}
