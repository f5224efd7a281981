// A workload for the jitlat tests: many small distinct methods, each made
// hot enough for C1 and then C2, and a few long loops (on-stack
// replacement). Protocol on stdin/stdout, so a tracer can attach first:
//   prints "pid N", waits for a line on stdin, runs, prints "done N"
//   (N: a checksum, so nothing is optimized away), waits for a second
//   line (or EOF), exits. These go to stderr: -XX:+PrintCompilation
//   writes to stdout from the compiler threads, and a line of ours would
//   land in the middle of one of its lines.
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class JitWork {
    interface Op { long apply(long x); }

    static long f0(long x) { return x * 31 + 7; }
    static long f1(long x) { return (x ^ 0x5bd1e995L) + (x >>> 3); }
    static long f2(long x) { return Long.rotateLeft(x, 13) * 5; }
    static long f3(long x) { return x % 1000003 + x / 7; }
    static long f4(long x) { long s = 0; for (int i = 0; i < 4; i++) s += x >> i; return s; }
    static long f5(long x) { return Long.bitCount(x) + x * 3; }
    static long f6(long x) { return (x & 0xffff) * (x >>> 16 & 0xff); }
    static long f7(long x) { return x < 0 ? -x : x + 11; }
    static long f8(long x) { return Long.numberOfTrailingZeros(x | 1024) + x; }
    static long f9(long x) { return (x * x) ^ (x << 7); }
    static long f10(long x) { return Math.max(x, 12345) - Math.min(x, 54321); }
    static long f11(long x) { return x * 0x9E3779B97F4A7C15L >>> 7; }
    static long f12(long x) { return (x | 0xf0f0) & ~(x >>> 9); }
    static long f13(long x) { return Long.reverse(x) + 1; }
    static long f14(long x) { return Integer.toString((int) (x & 0xff)).length() + x; }
    static long f15(long x) { return String.valueOf(x & 0x3f).hashCode() ^ x; }
    static long f16(long x) { int[] a = {1, 2, 3}; return a[(int) (x & 1)] + x; }
    static long f17(long x) { return Long.hashCode(x) * 17L; }
    static long f18(long x) { return (long) Math.sqrt((double) (x & 0xfffff)) + x; }
    static long f19(long x) { return Long.compare(x, 99) + x * 9; }
    static long f20(long x) { StringBuilder b = new StringBuilder(); b.append(x & 7); return b.length() + x; }
    static long f21(long x) { return Long.highestOneBit(x | 1) ^ x; }
    static long f22(long x) { return x / 3 + x / 5 + x / 11; }
    static long f23(long x) { return (x << 3) - (x << 1) + (x >> 2); }
    static long f24(long x) { long r = x; r ^= r >>> 33; r *= 0xff51afd7ed558ccdL; return r ^ (r >>> 33); }
    static long f25(long x) { return Character.isDigit((char) ('0' + (x & 15))) ? x + 1 : x - 1; }
    static long f26(long x) { return Long.signum(x) * 41 + x; }
    static long f27(long x) { return Math.floorMod(x, 97) + x; }
    static long f28(long x) { return Long.toHexString(x & 0xfff).length() * x; }
    static long f29(long x) { return Short.reverseBytes((short) x) + x; }

    static final Op[] OPS = {
        JitWork::f0, JitWork::f1, JitWork::f2, JitWork::f3, JitWork::f4,
        JitWork::f5, JitWork::f6, JitWork::f7, JitWork::f8, JitWork::f9,
        JitWork::f10, JitWork::f11, JitWork::f12, JitWork::f13, JitWork::f14,
        JitWork::f15, JitWork::f16, JitWork::f17, JitWork::f18, JitWork::f19,
        JitWork::f20, JitWork::f21, JitWork::f22, JitWork::f23, JitWork::f24,
        JitWork::f25, JitWork::f26, JitWork::f27, JitWork::f28, JitWork::f29,
    };

    // Each called directly in its own hot loop (OSR of the loop, then C1
    // and C2 of the callee), then all of them through the interface.
    static long run(int rounds) {
        long s = 1;
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < OPS.length; k++) {
                Op op = OPS[k];
                for (int i = 0; i < 20000; i++) s = op.apply(s + i);
            }
        }
        return s;
    }

    static long loop(long n) {
        long s = 0;
        for (long i = 0; i < n; i++) s += (i ^ s) >>> 1;
        return s;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        System.err.println("pid " + ProcessHandle.current().pid());
        System.err.flush();
        if (in.readLine() == null) return;
        long sum = run(rounds) + loop(30000000L);
        System.err.println("done " + sum);
        System.err.flush();
        in.readLine();
    }
}
