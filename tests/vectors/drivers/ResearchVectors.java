// Test-vector driver for AnchorHash, PowerCH and BinomialHash against the research benchmark
// java-consistent-hashing-algorithms (SUPSI-DTI-ISIN, commit 68803f8). It only calls the
// reference's public engine classes; the hash function they are parameterised by is this
// driver's (below), chosen so that the Python side can compute it too.
//
// Build and run OUTSIDE the repository (also in README.md next to this file):
//   REF=<checkout of java-consistent-hashing-algorithms>/src/main/java
//   javac -d out -cp /usr/share/java/commons-codec.jar \
//     Require.java ResearchVectors.java \
//     $REF/ch/supsi/dti/isin/hashfunction/*.java \
//     $REF/ch/supsi/dti/isin/consistenthash/BucketBasedEngine.java \
//     $REF/ch/supsi/dti/isin/consistenthash/anchor/AnchorEngine.java \
//     $REF/ch/supsi/dti/isin/consistenthash/power/PowerEngine.java \
//     $REF/ch/supsi/dti/isin/consistenthash/binomial/BinomialEngine.java
//   java -cp out:/usr/share/java/commons-codec.jar ResearchVectors <tests/vectors dir>

import ch.supsi.dti.isin.consistenthash.anchor.AnchorEngine;
import ch.supsi.dti.isin.consistenthash.binomial.BinomialEngine;
import ch.supsi.dti.isin.consistenthash.power.PowerEngine;
import ch.supsi.dti.isin.hashfunction.HashFunction;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

public final class ResearchVectors {

    // -- XXH3-64 of an 8-byte little-endian value under a 64-bit seed (the 4-to-8-byte
    // -- path of the XXH3 specification): consistent._hashing.mix_scalar on the Python side.
    static final long SECRET_8 = 0x1CAD21F72C81017CL;
    static final long SECRET_16 = 0xDB979083E96DD4DEL;
    static final long PRIME_MX2 = 0x9FB21C651E98DF25L;

    static long xxh3(long value, long seed) {
        seed ^= (Integer.reverseBytes((int) seed) & 0xFFFFFFFFL) << 32;
        long bitflip = (SECRET_8 ^ SECRET_16) - seed;
        long x = Long.rotateLeft(value, 32) ^ bitflip;
        x ^= Long.rotateLeft(x, 49) ^ Long.rotateLeft(x, 24);
        x *= PRIME_MX2;
        x ^= (x >>> 35) + 8;
        x *= PRIME_MX2;
        return x ^ (x >>> 28);
    }

    /** The keys are decimal 64-bit key hashes; rehashes are XXH3 as above. */
    static final class DriverHash implements HashFunction {
        public String name() { return "driver"; }
        public long hash(byte[] bytes) { throw new UnsupportedOperationException(); }
        @Override public long hash(String key) { return Long.parseUnsignedLong(key); }
        @Override public long hash(String key, int seed) { return Long.parseUnsignedLong(key); }
        // PowerCH's f: the key hash seeded with the level's power of two
        @Override public long hash(long key, int seed) { return xxh3(key, seed & 0xFFFFFFFFL); }
        // AnchorHash's chained draw; 63 bits so that the reference's Math.abs is the identity
        @Override public long hash(long key, int index, int seed) {
            return xxh3(key, index & 0xFFFFFFFFL) >>> 1;
        }
    }

    static final DriverHash HASH = new DriverHash();

    static long[] keys(int count, long seed, boolean nonNegative) {
        SplittableRandom random = new SplittableRandom(seed);
        long[] fixed = {0L, 1L, 2L, 0xDEADBEEFL, -1L, Long.MAX_VALUE, Long.MIN_VALUE};
        long[] keys = new long[count];
        for (int i = 0; i < count; i++) {
            long k = i < fixed.length ? fixed[i] : random.nextLong();
            keys[i] = nonNegative ? k & Long.MAX_VALUE : k;
        }
        return keys;
    }

    static String keyList(long[] keys) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < keys.length; i++) {
            out.append(i == 0 ? "" : ",").append('"').append(Long.toUnsignedString(keys[i])).append('"');
        }
        return out.append(']').toString();
    }

    interface Engine { int getBucket(String key); }

    static String buckets(Engine engine, long[] keys) {
        int[] result = new int[keys.length];
        for (int i = 0; i < keys.length; i++) result[i] = engine.getBucket(Long.toUnsignedString(keys[i]));
        return Arrays.toString(result);
    }

    static final int[] SIZES = {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65,
        100, 127, 128, 129, 1000, 1023, 1024, 1025, 4097};

    /** Buckets of engines built at each size, grown to it from 1 and from 2, and shrunk to it. */
    static String rangeHash(String reference, java.util.function.IntFunction<Object> build, long[] keys)
            throws Exception {
        StringBuilder out = new StringBuilder("{\n\"reference\": \"" + reference + "\",\n");
        out.append("\"keys\": ").append(keyList(keys)).append(",\n");
        String[] modes = {"built", "grown_from_1", "grown_from_2", "shrunk_from_5000"};
        for (int m = 0; m < modes.length; m++) {
            out.append('"').append(modes[m]).append("\": {");
            for (int s = 0; s < SIZES.length; s++) {
                int size = SIZES[s];
                Object engine;
                if (m == 0) {
                    engine = build.apply(size);
                } else if (m == 3) {
                    engine = build.apply(5000);
                    for (int n = 5000; n > size; n--) call(engine, "removeBucket", n - 1);
                } else {
                    int from = m; // 1 or 2
                    if (size < from) { out.append(s == 0 ? "" : ",").append("\n\"").append(size).append("\": null"); continue; }
                    engine = build.apply(from);
                    for (int n = from; n < size; n++) call(engine, "addBucket", -1);
                }
                Object e = engine;
                out.append(s == 0 ? "" : ",").append("\n\"").append(size).append("\": ")
                   .append(buckets(key -> (int) call(e, "getBucket", key), keys));
            }
            out.append("\n}").append(m + 1 < modes.length ? ",\n" : "\n");
        }
        return out.append("}\n").toString();
    }

    static Object call(Object engine, String method, Object argument) {
        try {
            if (method.equals("getBucket")) return engine.getClass().getMethod(method, String.class).invoke(engine, argument);
            if (method.equals("addBucket")) return engine.getClass().getMethod(method).invoke(engine);
            return engine.getClass().getMethod(method, int.class).invoke(engine, argument);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static int[] field(Object engine, String name) throws ReflectiveOperationException {
        Field f = engine.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return ((int[]) f.get(engine)).clone();
    }

    /** AnchorHash: the state arrays after each operation, then lookups. */
    static String anchorCase(String name, int size, int capacity, Object[] operations, long[] keys)
            throws ReflectiveOperationException {
        AnchorEngine engine = new AnchorEngine(size, capacity, HASH);
        List<String> states = new ArrayList<>();
        StringBuilder ops = new StringBuilder("[");
        for (int i = 0; i < operations.length; i++) {
            Object op = operations[i];
            int bucket;
            if (op.equals("add")) {
                bucket = engine.addBucket();
                ops.append(i == 0 ? "" : ",").append("\"add\"");
            } else {
                bucket = engine.removeBucket((Integer) op);
                ops.append(i == 0 ? "" : ",").append(op);
            }
            states.add("{\"bucket\": " + bucket + ", \"A\": " + Arrays.toString(field(engine, "A"))
                + ", \"W\": " + Arrays.toString(field(engine, "W"))
                + ", \"L\": " + Arrays.toString(field(engine, "L"))
                + ", \"K\": " + Arrays.toString(field(engine, "K")) + "}");
        }
        ops.append(']');
        return "{\"name\": \"" + name + "\", \"size\": " + size + ", \"capacity\": " + capacity
            + ", \"operations\": " + ops + ",\n \"states\": [\n  " + String.join(",\n  ", states)
            + "],\n \"keys\": " + keyList(keys) + ",\n \"buckets\": "
            + buckets(engine::getBucket, keys) + "}";
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : ".");
        String ref = "SUPSI-DTI-ISIN/java-consistent-hashing-algorithms 68803f8";

        long[] probe = keys(8, 7, false);
        StringBuilder mix = new StringBuilder("[");
        for (int i = 0; i < probe.length; i++) {
            mix.append(i == 0 ? "" : ",").append("[\"").append(Long.toUnsignedString(probe[i])).append("\", ")
               .append(i * 37).append(", \"").append(Long.toUnsignedString(xxh3(probe[i], i * 37))).append("\"]");
        }
        mix.append(']');

        long[] rangeKeys = keys(32, 42, false);
        Files.writeString(dir.resolve("binomial.json"), rangeHash(
            ref + ": BinomialEngine(n, hash).getBucket(key); grown/shrunk with addBucket/removeBucket",
            n -> new BinomialEngine(n, HASH), rangeKeys), StandardCharsets.UTF_8);
        String power = rangeHash(
            ref + ": PowerEngine(n, hash).getBucket(key), hash.hash(long, seed) = XXH3-64 of the key under seed",
            n -> new PowerEngine(n, HASH), rangeKeys);
        power = power.substring(0, power.lastIndexOf('}')) + ",\"xxh3\": " + mix + "\n}\n";
        Files.writeString(dir.resolve("powerch.json"), power, StandardCharsets.UTF_8);

        long[] anchorKeys = keys(24, 9, true);
        List<String> cases = new ArrayList<>();
        cases.add(anchorCase("remove-then-add", 6, 10, new Object[]{2, 0, "add", 5, "add", "add", "add"}, anchorKeys));
        cases.add(anchorCase("remove-last-and-middle", 8, 8, new Object[]{7, 3, 1, 6, "add", 0, "add", "add"}, anchorKeys));
        cases.add(anchorCase("grow-into-capacity", 3, 16, new Object[]{"add", "add", 1, "add", "add", 4, 0, 2, "add"}, anchorKeys));
        cases.add(anchorCase("many-removals", 30, 40, new Object[]{29, 28, 0, 15, 7, 22, 3, 11, 19, "add", 26, 1, "add", "add"}, anchorKeys));
        Files.writeString(dir.resolve("anchor.json"), "{\n\"reference\": \"" + ref
            + ": AnchorEngine(size, capacity, hash); hash.hash(k, b, seed) = XXH3-64(k, seed=b) >>> 1, chained\",\n\"cases\": [\n"
            + String.join(",\n", cases) + "\n]\n}\n", StandardCharsets.UTF_8);
    }
}
