package io.kvpod.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * A set of declared configuration keys: each with its type, default, validator and doc, in
 * one place, so {@link #usage()} can print them all and every read is typed and checked.
 *
 * <p>Values are looked up through a {@code Function<String,String>} so the same
 * declarations serve a Hadoop {@code Configuration} ({@code conf::get}), a properties file
 * or {@code -D} overrides. Immutable after construction; thread-safe.
 */
public final class ConfigDef {

  public enum Type { STRING, INT, LONG, BOOLEAN, DOUBLE, DURATION_MS }

  /** Checks a parsed value; returns null if it is fine, or a reason. */
  @FunctionalInterface
  public interface Validator {
    String check(Object value);

    static Validator atLeast(long min) {
      return v -> ((Number) v).longValue() >= min ? null : "must be >= " + min;
    }

    static Validator between(long min, long max) {
      return v -> {
        long x = ((Number) v).longValue();
        return x >= min && x <= max ? null : "must be in [" + min + ", " + max + "]";
      };
    }

    static Validator oneOf(String... allowed) {
      return v -> {
        for (String a : allowed) {
          if (a.equalsIgnoreCase((String) v)) {
            return null;
          }
        }
        return "must be one of " + String.join(", ", allowed);
      };
    }
  }

  /** One declared key. {@code defaultValue} is in the same text form a user would write. */
  public record Key(String name, Type type, String defaultValue, Validator validator, String doc) {}

  private final Map<String, Key> keys = new LinkedHashMap<>();

  public ConfigDef define(String name, Type type, String defaultValue, Validator validator, String doc) {
    if (keys.containsKey(name)) {
      throw new IllegalStateException("config key defined twice: " + name);
    }
    Key k = new Key(name, type, defaultValue, validator, doc);
    if (defaultValue != null) {
      parse(k, defaultValue); // a bad default is a programming error
    }
    keys.put(name, k);
    return this;
  }

  public ConfigDef define(String name, Type type, String defaultValue, String doc) {
    return define(name, type, defaultValue, null, doc);
  }

  public List<Key> keys() {
    return Collections.unmodifiableList(new ArrayList<>(keys.values()));
  }

  public Key key(String name) {
    Key k = keys.get(name);
    if (k == null) {
      throw new IllegalArgumentException("undeclared config key " + name);
    }
    return k;
  }

  /** Typed, validated values read through {@code lookup}. */
  public Values values(Function<String, String> lookup) {
    return new Values(this, lookup);
  }

  /** All keys, one block each: name, type, default, doc. */
  public String usage() {
    StringBuilder sb = new StringBuilder();
    for (Key k : keys.values()) {
      sb.append("  ").append(k.name()).append(" (").append(k.type().name().toLowerCase())
          .append(", default ").append(k.defaultValue() == null ? "none" : "'" + k.defaultValue() + "'")
          .append(")\n      ").append(k.doc()).append('\n');
    }
    return sb.toString();
  }

  static Object parse(Key k, String text) {
    Object v;
    String t = text.trim();
    try {
      v = switch (k.type()) {
        case STRING -> t;
        case INT -> Integer.parseInt(t);
        case LONG -> Long.parseLong(t);
        case DOUBLE -> Double.parseDouble(t);
        case BOOLEAN -> {
          if (!t.equalsIgnoreCase("true") && !t.equalsIgnoreCase("false")) {
            throw new IllegalArgumentException("expected true or false");
          }
          yield Boolean.parseBoolean(t);
        }
        case DURATION_MS -> Durations.parseMillis(t);
      };
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("config " + k.name() + "='" + text + "' is not a valid "
          + k.type().name().toLowerCase() + ": " + e.getMessage(), e);
    }
    if (k.validator() != null) {
      String why = k.validator().check(v);
      if (why != null) {
        throw new IllegalArgumentException("config " + k.name() + "='" + text + "' " + why);
      }
    }
    return v;
  }

  /** Reads values for declared keys; each get parses and validates. Thread-safe if lookup is. */
  public static final class Values {
    private final ConfigDef def;
    private final Function<String, String> lookup;

    Values(ConfigDef def, Function<String, String> lookup) {
      this.def = def;
      this.lookup = Objects.requireNonNull(lookup);
    }

    private Object get(String name) {
      Key k = def.key(name);
      String text = lookup.apply(name);
      if (text == null) {
        text = k.defaultValue();
      }
      if (text == null) {
        throw new IllegalArgumentException("config " + name + " is required: " + k.doc());
      }
      return parse(k, text);
    }

    /** Fails with "config X is required: doc" if the key has neither a value nor a default. */
    public void require(String name) {
      get(name);
    }

    public String getString(String name) {
      return (String) get(name);
    }

    public int getInt(String name) {
      return (Integer) get(name);
    }

    public long getLong(String name) {
      return (Long) get(name);
    }

    public double getDouble(String name) {
      return (Double) get(name);
    }

    public boolean getBoolean(String name) {
      return (Boolean) get(name);
    }

    public long getMillis(String name) {
      return (Long) get(name);
    }

    /** Parses and validates every declared key that has a value or default; fails on the first bad one. */
    public void validateAll() {
      for (Key k : def.keys.values()) {
        if (lookup.apply(k.name()) != null || k.defaultValue() != null) {
          get(k.name());
        }
      }
    }
  }
}
