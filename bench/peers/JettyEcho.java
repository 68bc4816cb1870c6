// JettyEcho: Jetty 9.4 (Debian's libjetty9-java + libjetty9-extra-java) WebSocket echo
// server, a peer for wharf-bench. Jetty's native WebSocket API (WebSocketHandler and a
// WebSocketListener), no servlet context, no permessage-deflate (the client offers none).
// Text and binary messages are echoed with async sends (RemoteEndpoint.sendString /
// sendBytes with a callback), on any path; messages up to 64 MiB; idle timeout 1 day.
//
//   java -cp <jetty jars>:<dir of JettyEcho.class> JettyEcho [--port 9005]
//
// Listens on 127.0.0.1 only. Prints "jetty-echo: echoing at ws://127.0.0.1:PORT/" once
// listening. SIGTERM/SIGINT stop it (Server.setStopAtShutdown). Threads: one selector, no
// separate acceptor (the selector accepts), a pool of at most 4 (Jetty hands reads to pool
// threads, so it cannot run on one thread; bench/run.sh pins the whole JVM to one CPU).
//
// bench/run.sh compiles it with javac against /usr/share/java/jetty9-*.jar.

import java.nio.ByteBuffer;

import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.WebSocketListener;
import org.eclipse.jetty.websocket.api.WriteCallback;
import org.eclipse.jetty.websocket.server.WebSocketHandler;
import org.eclipse.jetty.websocket.servlet.WebSocketServletFactory;

public final class JettyEcho {
    private static final int MAX_MESSAGE = 64 * 1024 * 1024;
    private static final long IDLE_TIMEOUT_MS = 24L * 3600 * 1000;

    /** One connection: every message goes straight back. Jetty calls it on one thread at a time. */
    public static final class EchoSocket implements WebSocketListener {
        private static final WriteCallback IGNORE = new WriteCallback() {
            @Override public void writeFailed(Throwable x) {}
            @Override public void writeSuccess() {}
        };
        private Session session;

        @Override public void onWebSocketConnect(Session s) { session = s; }
        @Override public void onWebSocketText(String message) {
            session.getRemote().sendString(message, IGNORE);
        }
        @Override public void onWebSocketBinary(byte[] payload, int offset, int len) {
            // The array is this message's own (Jetty copies whole messages), so wrapping it is safe.
            session.getRemote().sendBytes(ByteBuffer.wrap(payload, offset, len), IGNORE);
        }
        @Override public void onWebSocketClose(int status, String reason) { session = null; }
        @Override public void onWebSocketError(Throwable cause) {}
    }

    public static void main(String[] args) throws Exception {
        int port = 9005;
        for (int i = 0; i < args.length; ++i) {
            if (args[i].equals("--port") && i + 1 < args.length) port = Integer.parseInt(args[++i]);
            else if (args[i].equals("--threads") && i + 1 < args.length) ++i;  // accepted for symmetry
            else {
                System.err.println("usage: java JettyEcho [--port 9005]");
                System.exit(2);
            }
        }

        // At most 4 threads: the selector and up to 3 workers (8 measured no faster on one CPU).
        QueuedThreadPool pool = new QueuedThreadPool(4, 1);
        pool.setName("jetty-echo");
        Server server = new Server(pool);
        ServerConnector connector = new ServerConnector(server, 0, 1);  // acceptors 0 (the selector accepts), 1 selector
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        connector.setAcceptQueueSize(4096);
        connector.setIdleTimeout(IDLE_TIMEOUT_MS);
        server.addConnector(connector);

        server.setHandler(new WebSocketHandler() {
            @Override public void configure(WebSocketServletFactory factory) {
                factory.getPolicy().setMaxTextMessageSize(MAX_MESSAGE);
                factory.getPolicy().setMaxBinaryMessageSize(MAX_MESSAGE);
                factory.getPolicy().setIdleTimeout(IDLE_TIMEOUT_MS);
                factory.setCreator((req, resp) -> new EchoSocket());
            }
        });
        server.setStopAtShutdown(true);
        server.start();
        System.out.println("jetty-echo: echoing at ws://127.0.0.1:" + connector.getLocalPort() + "/");
        System.out.flush();
        server.join();
    }
}
