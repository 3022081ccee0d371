import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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

    /// The size of a request as it goes on the wire (HTTP/1.1 request line, headers, body).
    static func size(of request: URLRequest) -> Int {
        let url = request.url
        var n = (request.httpMethod ?? "GET").utf8.count + 12
        n += url?.path.utf8.count ?? 0
        n += url?.query.map { $0.utf8.count + 1 } ?? 0
        n += 10 + (url?.host?.utf8.count ?? 0)
        for (k, v) in request.allHTTPHeaderFields ?? [:] { n += k.utf8.count + v.utf8.count + 4 }
        let body = request.httpBody?.count ?? 0
        if body > 0 { n += body + 20 + String(body).utf8.count }
        return n + 2
    }

    /// The body's size on the wire. URLSession (libcurl on Linux) hands over a gzipped body
    /// already decompressed, so its size as sent is the `Content-Length` of a gzip response.
    static func bodySize(_ response: HTTPURLResponse, _ data: Data) -> Int {
        let encoding = response.value(forHTTPHeaderField: "Content-Encoding")?.lowercased()
        if encoding == "gzip", response.expectedContentLength >= 0 { return Int(response.expectedContentLength) }
        return data.count
    }

    /// The size of a response as it came on the wire (status line, headers, body as received).
    static func size(of response: HTTPURLResponse, body: Int) -> Int {
        var n = 17 + 2
        for (k, v) in response.allHeaderFields { n += "\(k)".utf8.count + "\(v)".utf8.count + 4 }
        return n + body
    }
}
