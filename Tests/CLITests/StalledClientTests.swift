import Foundation
import Testing

/// A client that starts a request and then sends nothing must not hold a hub connection for ever
/// (SPEC.md §11.10, `hub serve --idle-timeout`).
@Suite("stalled clients")
struct StalledClientTests {
    @Test("a push whose body stops half way is closed after the idle timeout; other clients are served meanwhile")
    func stalledBody() async throws {
        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli, arguments: ["--idle-timeout", "1"])
        defer { hub.stop() }
        let port = try #require(URL(string: hub.url)?.port.map(UInt16.init))
        let fd = try #require(LoopbackSocket.connectLoopback(port: port))
        defer { close(fd) }
        let head = "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer kmk_x\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"replica\":"
        #expect(LoopbackSocket.sendAll(fd, Array(head.utf8)))
        let started = Date()
        // Meanwhile the hub answers others.
        #expect(try await RawHTTP.send("GET", hub.url + "/v1/health").status == 200)
        // Wait (at most 15 s more) for the hub to close the stalled connection: recv returns 0 (or an error).
        var buffer = [UInt8](repeating: 0, count: 4096)
        var closed = false
        let deadline = Date().addingTimeInterval(15)
        repeat {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { closed = true }
        } while !closed && Date() < deadline
        #expect(closed, "the stalled connection was still open after 15 s")
        #expect(Date().timeIntervalSince(started) >= 0.9, "not before the idle timeout")
        #expect(try await RawHTTP.send("GET", hub.url + "/v1/health").status == 200)
    }
}
