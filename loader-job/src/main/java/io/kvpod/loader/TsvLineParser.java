package io.kvpod.loader;

import io.kvpod.contract.ContractViolation;

/**
 * Parses tab-separated records:
 *
 * <pre>
 *   line    := key (TAB '@' version)? (TAB name '=' text)*
 *   version := decimal digits (a non-negative i64)
 * </pre>
 *
 * The name ends at the first '='; the text may contain '='. In key, name and text, the
 * escapes {@code \t \n \r \\} stand for tab, newline, carriage return and backslash; any
 * other backslash sequence makes the line bad. Example: {@code k1\t@7\tname=choke\tage=18}.
 */
final class TsvLineParser implements RecordParser {
  private byte[] scratch = new byte[256];

  @Override
  public void parse(byte[] line, int length, ParsedRecord out) throws BadRecordException {
    out.reset();
    try {
      int col = 0;
      int start = 0;
      for (int i = 0; i <= length; i++) {
        if (i == length || line[i] == '\t') {
          column(line, start, i, col++, out);
          start = i + 1;
        }
      }
    } catch (ContractViolation e) {
      throw new BadRecordException(e.getMessage());
    }
  }

  private void column(byte[] b, int from, int to, int col, ParsedRecord out) throws BadRecordException {
    if (col == 0) {
      int n = unescape(b, from, to, 0);
      out.setKey(scratch, 0, n);
      return;
    }
    if (col == 1 && to > from && b[from] == '@') {
      out.version = parseVersion(b, from + 1, to);
      return;
    }
    int eq = -1;
    for (int i = from; i < to; i++) {
      if (b[i] == '=') {
        eq = i;
        break;
      }
    }
    if (eq < 0) {
      throw new BadRecordException("column " + (col + 1) + " is not name=value");
    }
    int nameLen = unescape(b, from, eq, 0);
    int textLen = unescape(b, eq + 1, to, nameLen);
    out.value.addUtf8(scratch, 0, nameLen, scratch, nameLen, textLen);
  }

  private static long parseVersion(byte[] b, int from, int to) throws BadRecordException {
    if (from == to || to - from > 19) {
      throw new BadRecordException("version column must be @ followed by 1..19 digits");
    }
    long v = 0;
    for (int i = from; i < to; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        throw new BadRecordException("version column must be @ followed by digits");
      }
      v = v * 10 + d;
      if (v < 0) {
        throw new BadRecordException("version does not fit a signed 64-bit integer");
      }
    }
    return v;
  }

  /** Unescapes b[from,to) into scratch at {@code at}; returns the unescaped length. */
  private int unescape(byte[] b, int from, int to, int at) throws BadRecordException {
    if (scratch.length < at + (to - from)) {
      scratch = java.util.Arrays.copyOf(scratch, Math.max(scratch.length * 2, at + (to - from)));
    }
    int o = at;
    for (int i = from; i < to; i++) {
      byte c = b[i];
      if (c == '\\') {
        if (++i == to) {
          throw new BadRecordException("line ends inside a backslash escape");
        }
        c = switch (b[i]) {
          case 't' -> '\t';
          case 'n' -> '\n';
          case 'r' -> '\r';
          case '\\' -> '\\';
          default -> throw new BadRecordException("unknown escape \\" + (char) b[i]
              + "; use \\t \\n \\r or \\\\");
        };
      }
      scratch[o++] = c;
    }
    return o - at;
  }
}
