import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// TEMPORARY, for the A/B measurement of issue 7 (KMK_HTTP_CLIENT=urlsession): the URLSession
/// transport HubClient had before AsyncHTTPClient.
final class LegacySession: Sendable {
    let session: URLSession
    let timeout: Double

    init(timeout: Double) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 2
        session = URLSession(configuration: configuration)
        self.timeout = timeout
    }

    func send(_ exchange: HubClient.Exchange, wire: WireCounter) async throws -> HubClient.Answer {
        var request = URLRequest(url: exchange.url)
        request.httpMethod = exchange.method
        request.timeoutInterval = timeout
        for (name, value) in exchange.headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body = exchange.body { request.httpBody = Data(body) }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        wire.add(sent: Self.size(of: request), received: Self.size(of: http, body: Self.bodySize(http, data)))
        return HubClient.Answer(status: http.statusCode, body: [UInt8](data))
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
