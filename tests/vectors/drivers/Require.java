// A stand-in for org.nerd4j.utils.lang.Require (not on this machine, and Maven Central is not
// reachable): the argument checks the reference's HashFunction calls, nothing more.
package org.nerd4j.utils.lang;

public final class Require {
    private Require() {}

    public static <T> T nonNull(T value, String message) {
        if (value == null) throw new NullPointerException(message);
        return value;
    }

    public static String nonEmpty(String value, String message) {
        if (value == null || value.isEmpty()) throw new IllegalArgumentException(message);
        return value;
    }

    public static byte[] nonEmpty(byte[] value, String message) {
        if (value == null || value.length == 0) throw new IllegalArgumentException(message);
        return value;
    }
}
