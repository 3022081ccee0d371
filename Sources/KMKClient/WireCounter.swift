import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// Counts the bytes a ``HubClient`` sends and receives: request line, headers and body as sent
/// (gzipped when compressed), status line, headers and body as received. Used by the benchmark
/// to report bytes on the wire per change.
public final class WireCounter: @unchecked Sendable {
    // @unchecked: every access to the two counters goes through `lock`.
    private let lock = NSLock()
    private var sentBytes = 0
    private var receivedBytes = 0

    public init() {}

    /// Bytes sent and received so far.
    public var totals: (sent: Int, received: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (sentBytes, receivedBytes)
    }

    /// Sets both counters to zero.
    public func reset() {
        lock.lock()
        sentBytes = 0
        receivedBytes = 0
        lock.unlock()
    }

    func add(sent: Int, received: Int) {
        lock.lock()
        sentBytes += sent
        receivedBytes += received
        lock.unlock()
    }

    /// The size of a request as it goes on the wire: request line, the headers set here and
    /// the two AsyncHTTPClient adds (`Host`, and `Content-Length` when there is a body), body.
    static func size(of request: HTTPClientRequest, url: URL, body: Int) -> Int {
        // "GET /v1/changes?… HTTP/1.1\r\n"
        var target = url.path.utf8.count
        if let query = url.query { target += 1 + query.utf8.count }
        var n = request.method.rawValue.utf8.count + 1 + max(1, target) + 11
        var host = url.host?.utf8.count ?? 0
        if let port = url.port { host += 1 + String(port).utf8.count }
        n += 6 + host + 2
        for header in request.headers { n += header.name.utf8.count + 2 + header.value.utf8.count + 2 }
        if body > 0 { n += 16 + String(body).utf8.count + 2 + body }
        return n + 2
    }

    /// The size of a response as it came on the wire: status line, headers, and the body as
    /// received (AsyncHTTPClient leaves a gzipped body compressed, so this is its
    /// `Content-Length`).
    static func size(of response: HTTPClientResponse, body: Int) -> Int {
        // "HTTP/1.1 200 OK\r\n"
        var n = 9 + 3 + 1 + response.status.reasonPhrase.utf8.count + 2
        for header in response.headers { n += header.name.utf8.count + 2 + header.value.utf8.count + 2 }
        return n + 2 + body
    }
}
