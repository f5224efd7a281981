// A workload for the jvmpauselat tests: stop-the-world pauses of known
// kinds. Same stdin/stderr protocol as JitWork: prints "pid N", waits for
// a line, runs, prints "done N", waits for a second line (or EOF), exits.
//   PauseWork GCS DUMPS
// GCS rounds of allocation (young collections, as many as the heap size
// makes) each ended by System.gc() (one full collection, or a concurrent
// cycle with -XX:+ExplicitGCInvokesConcurrent), then DUMPS calls of
// Thread.getAllStackTraces() (a pause that collects nothing).
import java.io.BufferedReader;
import java.io.InputStreamReader;

public class PauseWork {
    static byte[][] keep = new byte[256][];

    static long churn(int mib) {
        long sum = 0;
        for (int i = 0; i < mib * 256; i++) {
            byte[] b = new byte[4096];
            b[i & 4095] = (byte) i;
            keep[i & 255] = b;
            sum += b.length;
        }
        return sum;
    }

    public static void main(String[] args) throws Exception {
        int gcs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int dumps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        System.err.println("pid " + ProcessHandle.current().pid());
        System.err.flush();
        if (in.readLine() == null) return;
        long sum = 0;
        for (int i = 0; i < gcs; i++) {
            sum += churn(48);
            System.gc();
        }
        for (int i = 0; i < dumps; i++)
            sum += Thread.getAllStackTraces().size();
        System.err.println("done " + sum);
        System.err.flush();
        in.readLine();
    }
}
