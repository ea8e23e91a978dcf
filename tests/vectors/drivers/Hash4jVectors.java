// Writes JumpBackHash and JumpBackAnchor test vectors (JSON files) by calling hash4j.
//
// Build and run: see README.md in this directory. This file holds no code of the
// reference; it calls hash4j's public API only:
//   ConsistentHashing.jumpBackHashSplitMix64().getBucket(hash, numBuckets)
//   ConsistentHashing.jumpBackHash(PseudoRandomGeneratorProvider.splitMix64_V1())
//   ConsistentHashing.jumpBackAnchorHash(PseudoRandomGeneratorProvider.splitMix64_V1())
//     and its addBucket / removeBucket / getBucket / getBuckets / getNumBuckets /
//     getState / setState.
// Usage: java -cp <hash4j classes>:. Hash4jVectors <output directory>

import com.dynatrace.hash4j.consistent.ConsistentBucketHasher;
import com.dynatrace.hash4j.consistent.ConsistentBucketSetHasher;
import com.dynatrace.hash4j.consistent.ConsistentHashing;
import com.dynatrace.hash4j.random.PseudoRandomGeneratorProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

public final class Hash4jVectors {

  private static final String REFERENCE = "dynatrace-oss/hash4j 41d814f";

  private static String u(long value) {
    return Long.toUnsignedString(value);
  }

  private static String joinLongs(long[] values) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < values.length; i++) {
      if (i > 0) sb.append(',');
      sb.append(u(values[i]));
    }
    return sb.append(']').toString();
  }

  private static String joinInts(int[] values) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < values.length; i++) {
      if (i > 0) sb.append(',');
      sb.append(values[i]);
    }
    return sb.append(']').toString();
  }

  private static long[] keys(SplittableRandom random, int count) {
    long[] fixed = {
      0L, 1L, 2L, 3L, 0xDEADBEEFL, 0xFFFFFFFFL, 0x100000000L, Long.MAX_VALUE, Long.MIN_VALUE, -2L, -1L
    };
    long[] keys = new long[count];
    for (int i = 0; i < count; i++) {
      keys[i] = i < fixed.length ? fixed[i] : random.nextLong();
    }
    return keys;
  }

  // -- JumpBackHash -----------------------------------------------------------------------

  private static String jumpBack() {
    ConsistentBucketHasher fast = ConsistentHashing.jumpBackHashSplitMix64();
    ConsistentBucketHasher generic =
        ConsistentHashing.jumpBackHash(PseudoRandomGeneratorProvider.splitMix64_V1());
    SplittableRandom random = new SplittableRandom(0x1B4C4B);
    long[] keys = keys(random, 40);
    int[] ns = {
      1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 1000, 1023, 1024, 1025, 65536, 1_000_000,
      1 << 30, (1 << 30) + 1, Integer.MAX_VALUE - 1, Integer.MAX_VALUE
    };
    List<String> rows = new ArrayList<>();
    for (long key : keys) {
      int[] row = new int[ns.length];
      for (int j = 0; j < ns.length; j++) {
        row[j] = fast.getBucket(key, ns[j]);
        if (row[j] != generic.getBucket(key, ns[j])) throw new AssertionError("providers differ");
      }
      rows.add(joinInts(row));
    }
    List<String> pairs = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      long key = random.nextLong();
      int bits = random.nextInt(31) + 1;
      int n = Math.max(1, (int) (random.nextLong() >>> (64 - bits)));
      pairs.add("[" + u(key) + "," + n + "," + fast.getBucket(key, n) + "]");
    }
    return "{\n\"reference\": \""
        + REFERENCE
        + ": ConsistentHashing.jumpBackHashSplitMix64().getBucket(key, n)\",\n"
        + "\"keys\": "
        + joinLongs(keys)
        + ",\n\"num_buckets\": "
        + joinInts(ns)
        + ",\n\"grid_key_n\": [\n  "
        + String.join(",\n  ", rows)
        + "],\n\"key_n_bucket\": [\n  "
        + String.join(",\n  ", pairs)
        + "]\n}\n";
  }

  // -- JumpBackAnchor ---------------------------------------------------------------------

  /** Records every operation applied to one hasher and its result. */
  private static final class Trace {
    final ConsistentBucketSetHasher hasher;
    final long[] probes;
    final List<String> ops = new ArrayList<>();

    Trace(long[] probes) {
      this.hasher = ConsistentHashing.jumpBackAnchorHash(PseudoRandomGeneratorProvider.splitMix64_V1());
      this.probes = probes;
    }

    int add() {
      int b = hasher.addBucket();
      ops.add("[\"add\"," + b + "]");
      return b;
    }

    boolean remove(int b) {
      boolean removed = hasher.removeBucket(b);
      ops.add("[\"remove\"," + b + "," + removed + "]");
      return removed;
    }

    void lookup() {
      if (hasher.getNumBuckets() == 0) {
        try {
          hasher.getBucket(0L);
          throw new AssertionError("lookup on an empty set succeeded");
        } catch (IllegalStateException expected) {
          ops.add("[\"lookup_empty\"]");
        }
        return;
      }
      int[] buckets = new int[probes.length];
      for (int i = 0; i < probes.length; i++) buckets[i] = hasher.getBucket(probes[i]);
      ops.add("[\"lookup\"," + joinInts(buckets) + "]");
    }

    void members() {
      ops.add(
          "[\"buckets\","
              + hasher.getNumBuckets()
              + ","
              + joinInts(hasher.getBuckets())
              + "]");
    }

    void count() {
      ops.add("[\"num_buckets\"," + hasher.getNumBuckets() + "]");
    }

    byte[] state() {
      byte[] state = hasher.getState();
      ops.add("[\"state\",\"" + HexFormat.of().formatHex(state) + "\"]");
      return state;
    }

    void setState(byte[] state) {
      hasher.setState(state);
      ops.add("[\"set_state\",\"" + HexFormat.of().formatHex(state) + "\"]");
    }

    String json(String name) {
      return "{\"name\": \"" + name + "\", \"ops\": [\n   " + String.join(",\n   ", ops) + "]}";
    }
  }

  private static String jumpBackAnchor() {
    SplittableRandom random = new SplittableRandom(0xA4C402);
    long[] probes = keys(random, 24);
    List<String> scenarios = new ArrayList<>();
    List<byte[]> states = new ArrayList<>();

    // Growing one bucket at a time from empty.
    Trace grow = new Trace(probes);
    grow.lookup();
    for (int i = 0; i < 40; i++) {
      grow.add();
      grow.lookup();
    }
    grow.members();
    grow.state();
    scenarios.add(grow.json("grow_to_40"));

    // 1,000 buckets, 90 % removed one by one in random order (with refused removals).
    Trace many = new Trace(probes);
    for (int i = 0; i < 1000; i++) many.hasher.addBucket();
    many.ops.add("[\"add_many\",1000]");
    many.lookup();
    int[] order = new int[1000];
    for (int i = 0; i < 1000; i++) order[i] = i;
    for (int i = 999; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int r = 0; r < 900; r++) {
      many.remove(order[r]);
      if (r % 50 == 49) {
        many.remove(order[random.nextInt(r + 1)]); // already removed: refused
        many.lookup();
        if (r % 300 == 299) {
          many.members();
          byte[] state = many.state();
          if (r < 600) states.add(state);
        }
      }
    }
    many.remove(-1);
    many.remove(1000);
    for (int i = 0; i < 5; i++) many.add();
    many.lookup();
    many.state();
    scenarios.add(many.json("remove_90_percent_of_1000"));

    // The documented worst-case order: remove 0, then n-1 down to 2.
    Trace worst = new Trace(probes);
    for (int i = 0; i < 200; i++) worst.hasher.addBucket();
    worst.ops.add("[\"add_many\",200]");
    worst.remove(0);
    for (int b = 199; b >= 2; b--) worst.remove(b);
    worst.lookup();
    worst.members();
    states.add(worst.state());
    worst.add();
    worst.add();
    worst.lookup();
    worst.state();
    scenarios.add(worst.json("worst_case_order"));

    // Random adds and removes on small sets, through empty and back.
    Trace mixed = new Trace(probes);
    for (int step = 0; step < 1500; step++) {
      int size = mixed.hasher.getNumBuckets();
      if (size == 0 || (size < 24 && random.nextInt(2) == 0)) {
        mixed.add();
      } else {
        int[] present = mixed.hasher.getBuckets();
        int roll = random.nextInt(10);
        if (roll == 0) {
          mixed.remove(random.nextInt(present[present.length - 1] + 4) - 2);
        } else if (roll == 1) {
          mixed.remove(present[present.length - 1]);
        } else {
          mixed.remove(present[random.nextInt(present.length)]);
        }
      }
      if (step % 10 == 9) {
        mixed.lookup();
        if (step % 50 == 49) {
          mixed.members();
          states.add(mixed.state());
        }
      }
    }
    scenarios.add(mixed.json("random_mixed"));

    // Import: each recorded state into a fresh hasher and into one in use, then changes.
    Trace imports = new Trace(probes);
    for (int i = 0; i < 7; i++) imports.add();
    imports.remove(3);
    for (byte[] state : states) {
      imports.setState(state);
      imports.lookup();
      imports.members();
      imports.state();
      imports.add();
      int[] present = imports.hasher.getBuckets();
      imports.remove(present[random.nextInt(present.length)]);
      imports.lookup();
      imports.state();
    }
    scenarios.add(imports.json("import_states"));

    // A huge historic maximum with few removals: the state stays small (hash4j allocates up
    // to the largest removed id, so the removed ids stay moderate).
    Trace huge = new Trace(probes);
    byte[] big = new byte[16];
    java.nio.ByteBuffer.wrap(big)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
        .putInt(Integer.MAX_VALUE)
        .putInt(5)
        .putInt(3_000_000)
        .putInt(77);
    huge.setState(big);
    huge.lookup();
    huge.count();
    huge.add();
    huge.lookup();
    huge.remove(1_000_000);
    huge.remove(5);
    huge.remove(2_999_999);
    huge.lookup();
    huge.state();
    scenarios.add(huge.json("huge_historic_maximum"));

    // States hash4j refuses (on a fresh hasher) and accepts.
    String[] candidates = {
      "", "000000", "0000000000", "00000000", "01000000", "ffffffff", "0200000002000000",
      "0200000000000000ffffffff", "030000000100000001000000", "0300000001000000",
      "0300000002000000", "030000000000000001000000", "0200000000000000"
    };
    List<String> verdicts = new ArrayList<>();
    for (String hex : candidates) {
      ConsistentBucketSetHasher h =
          ConsistentHashing.jumpBackAnchorHash(PseudoRandomGeneratorProvider.splitMix64_V1());
      String verdict;
      try {
        h.setState(HexFormat.of().parseHex(hex));
        verdict = "accepted " + h.getNumBuckets();
      } catch (IllegalArgumentException e) {
        verdict = "refused";
      }
      verdicts.add("[\"" + hex + "\",\"" + verdict + "\"]");
    }

    return "{\n\"reference\": \""
        + REFERENCE
        + ": ConsistentHashing.jumpBackAnchorHash(PseudoRandomGeneratorProvider.splitMix64_V1())\",\n"
        + "\"probe_keys\": "
        + joinLongs(probes)
        + ",\n\"scenarios\": [\n  "
        + String.join(",\n  ", scenarios)
        + "],\n\"set_state_verdicts\": [\n  "
        + String.join(",\n  ", verdicts)
        + "]\n}\n";
  }

  public static void main(String[] args) throws IOException {
    Path out = Path.of(args.length > 0 ? args[0] : ".");
    Files.writeString(out.resolve("jumpback.json"), jumpBack(), StandardCharsets.UTF_8);
    Files.writeString(out.resolve("jumpbackanchor.json"), jumpBackAnchor(), StandardCharsets.UTF_8);
  }
}
