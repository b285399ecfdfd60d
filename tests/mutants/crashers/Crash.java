// A Java implementation that throws on every document: `Exception in thread "main"`
// and the stack on stderr, exit 1. With CRASH_SAYS_ERROR=1 it first logs an `error:` line.
import java.nio.file.Files;
import java.nio.file.Path;

public class Crash {
    static String convert(String path) throws Exception {
        byte[] data = Files.readAllBytes(Path.of(path));
        if ("1".equals(System.getenv("CRASH_SAYS_ERROR"))) {
            System.err.println("error: cannot convert " + path);
        }
        int[] cells = new int[0];
        return Integer.toString(cells[data.length % 7 + 1]);
    }

    public static void main(String[] args) throws Exception {
        System.out.println(convert(args[0]));
    }
}
