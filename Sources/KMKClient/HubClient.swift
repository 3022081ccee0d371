import AsyncHTTPClient
import Foundation
import KMKModel
import KMKSync
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP side of the protocol (SPEC.md §11.3), over AsyncHTTPClient: one method per endpoint,
/// with retries for connection errors and 5xx, gzip for big push bodies.
public final class HubClient: Sendable {
    public let baseURL: URL
    let token: String
    let retry: RetryPolicy
    let schemaVersion: Int
    /// This client's connection pool, on the process's shared event loops
    /// (`MultiThreadedEventLoopGroup.singleton`); shut down when the client goes.
    let http: HTTPClient
    /// Whether request bodies of 1 KiB or more are gzipped and gzipped responses asked for (default on).
    public let gzip: Bool
    /// The bytes this client sent and received.
    public let wire = WireCounter()

    public init(
        url: String, token: String, retry: RetryPolicy = RetryPolicy(), schemaVersion: Int = Schema.current.version,
        gzip: Bool = true
    ) throws {
        guard let base = URL(string: url.hasSuffix("/") ? String(url.dropLast()) : url),
              base.scheme == "http" || base.scheme == "https", base.host != nil else {
            throw ClientError(.notConfigured, "'\(url)' is not a hub URL; use the form http://HOST:PORT")
        }
        baseURL = base
        self.token = token
        self.retry = retry
        self.schemaVersion = schemaVersion
        self.gzip = gzip
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: Self.configuration(retry))
    }

    deinit {
        // Without waiting: the pool closes its idle connections on the event loops. A process
        // that exits first loses nothing (the hub sees the connections close).
        http.shutdown(queue: .global()) { _ in }
    }

    /// One connection pool per client: connect and read timeouts from the retry policy; no
    /// retrying of connections inside the pool (the retry loop here does that, with its
    /// backoff, so a hub that is down fails each attempt at once); the body is left as sent
    /// (gzip is undone here, after the wire bytes are counted).
    static func configuration(_ retry: RetryPolicy) -> HTTPClient.Configuration {
        let timeout = TimeAmount.nanoseconds(Int64(retry.timeout * 1_000_000_000))
        var configuration = HTTPClient.Configuration(timeout: .init(connect: timeout, read: timeout), decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// What `GET /v1/health` says.
    public struct Health: Sendable {
        public var hub: String
        public var schema: Int
        public var maxBatchChanges: Int
        public var maxBatchBytes: Int
    }

    public func health(attempts: Int? = nil) async throws -> Health {
        let json = try await send("GET", "/v1/health", attempts: attempts)
        guard let hub = json["hub"]?.stringValue, let schema = json["schema"]?.intValue else {
            throw ClientError(.protocolError, "\(baseURL) answered /v1/health without hub and schema: is it a kmk-sync hub?")
        }
        return Health(hub: hub, schema: schema, maxBatchChanges: json["max_batch_changes"]?.intValue ?? 1_000,
                      maxBatchBytes: json["max_batch_bytes"]?.intValue ?? 1_000_000)
    }

    public func push(_ batch: PushBatch) async throws -> PushReply {
        let body = batch.body()
        do {
            return try PushReply(json: try await send("POST", "/v1/push", body: body))
        } catch let e as SyncError {
            throw ClientError(.protocolError, "the hub's push reply is malformed: \(e.message)")
        }
    }

    /// The body of one `GET /v1/changes` (gunzipped), not yet decoded: see ``page(_:)``.
    public func pullBody(cursor: String?, limit: Int?, nationalOnly: Bool = false) async throws -> [UInt8] {
        var query = [URLQueryItem(name: "schema", value: String(schemaVersion))]
        if nationalOnly { query.append(URLQueryItem(name: "only", value: "national")) }
        if let cursor { query.append(URLQueryItem(name: "cursor", value: cursor)) }
        if let limit { query.append(URLQueryItem(name: "limit", value: String(limit))) }
        return try await sendBytes("GET", "/v1/changes", query: query, attempts: nil)
    }

    /// Decodes a pull page's body.
    public func page(_ body: [UInt8]) throws -> PullPage {
        // The common form, read straight from the bytes; anything else through the JSON tree,
        // which names what is wrong.
        if let page = PullPage(body: body) { return page }
        let json = try parse(String(decoding: body, as: UTF8.self), "GET", "/v1/changes")
        do {
            return try PullPage(json: json)
        } catch {
            throw ClientError(.protocolError, "the hub sent a page this replica cannot read: \(error.message)")
        }
    }

    public func checksum(municipality: String) async throws -> (checksum: String, count: Int) {
        let json = try await send("GET", "/v1/checksum", query: [URLQueryItem(name: "schema", value: String(schemaVersion)),
                                                                  URLQueryItem(name: "municipality", value: municipality)])
        guard let sum = json["checksum"]?.stringValue, let count = json["registers"]?.intValue else {
            throw ClientError(.protocolError, "the hub's checksum answer lacks checksum or registers")
        }
        return (sum, count)
    }

    /// The last batch the hub applied from `replica` (0 when it never pushed).
    public func lastBatch(replica: String) async throws -> Int64 {
        let json = try await send("GET", "/v1/replica", query: [URLQueryItem(name: "schema", value: String(schemaVersion)),
                                                                 URLQueryItem(name: "id", value: replica)])
        guard let n = json["last_batch"]?.intValue else {
            throw ClientError(.protocolError, "the hub's replica answer lacks last_batch")
        }
        return Int64(n)
    }

    /// The JSON text of a GET (e.g. a report), with the same retries and errors as the protocol calls.
    public func getText(_ path: String, query: [URLQueryItem] = []) async throws -> String {
        try await sendText("GET", path, query: query, attempts: nil)
    }

    /// Sends one request, retrying connection errors and 5xx; returns the parsed JSON body of a
    /// 200, throws ``WireError`` for a 4xx with an error body.
    func send(_ method: String, _ path: String, query: [URLQueryItem] = [], body: [UInt8]? = nil,
              attempts: Int? = nil) async throws -> JSONValue {
        try parse(try await sendText(method, path, query: query, body: body, attempts: attempts), method, path)
    }

    /// The JSON of a 200's body.
    private func parse(_ text: String, _ method: String, _ path: String) throws -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch {
            throw ClientError(.protocolError, "\(baseURL) answered \(method) \(path) with a body that is not JSON (\(error))")
        }
    }

    /// Sends one request, retrying connection errors and 5xx; returns the text body of a 200.
    func sendText(_ method: String, _ path: String, query: [URLQueryItem] = [], body: [UInt8]? = nil,
                  attempts: Int? = nil) async throws -> String {
        String(decoding: try await sendBytes(method, path, query: query, body: body, attempts: attempts), as: UTF8.self)
    }

    /// Sends one request, retrying connection errors and 5xx; returns the body of a 200 (gunzipped).
    func sendBytes(_ method: String, _ path: String, query: [URLQueryItem] = [], body: [UInt8]? = nil,
                   attempts: Int?) async throws -> [UInt8] {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty {
            components.queryItems = query
            // '+' in a cursor or token must survive form decoding on the hub.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        let url = components.url!
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept-Encoding", value: gzip ? "gzip" : "identity")
        var sentBody = 0
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            let bytes: [UInt8]
            if gzip, body.count >= 1_024 {
                bytes = Gzip.compress(body)
                request.headers.add(name: "Content-Encoding", value: "gzip")
            } else {
                bytes = body
            }
            sentBody = bytes.count
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let total = attempts ?? retry.attempts
        var random = SystemRandomNumberGenerator()
        var lastProblem = ""
        for attempt in 1...total {
            if attempt > 1 {
                try await Task.sleep(nanoseconds: retry.delay(beforeRetry: attempt - 1, random: &random) * 1_000_000)
            }
            let answer: (status: Int, body: [UInt8])
            do {
                answer = try await exchange(request, url: url, body: sentBody)
            } catch {
                lastProblem = Self.problem(error, url: url)
                continue
            }
            var bytes = answer.body
            if Gzip.isGzip(bytes) { bytes = (try? Gzip.decompress(bytes, limit: 512 * 1024 * 1024)) ?? bytes }
            if answer.status >= 500 {
                let text = String(decoding: bytes, as: UTF8.self)
                lastProblem = "HTTP \(answer.status)" + (WireError(status: answer.status, body: text).map { ": \($0.message)" } ?? "")
                continue
            }
            guard answer.status == 200 else {
                if let e = WireError(status: answer.status, body: String(decoding: bytes, as: UTF8.self)) { throw e }
                throw ClientError(.protocolError, "\(baseURL) answered \(method) \(path) with HTTP \(answer.status) and no "
                    + "kmk-sync error body: is the URL a kmk-sync hub?")
            }
            return bytes
        }
        throw ClientError(.unavailable, "the hub at \(baseURL) is unavailable after \(total) attempt\(total == 1 ? "" : "s") "
            + "(\(lastProblem)); nothing was lost: the changes stay pending. Try again later")
    }

    /// One attempt: the status and the body as received (gzipped when the hub compressed it);
    /// counts the bytes on the wire of a complete answer.
    private func exchange(_ request: HTTPClientRequest, url: URL, body: Int) async throws -> (status: Int, body: [UInt8]) {
        // The timeout bounds each wait for bytes (the configuration's read timeout); the whole
        // exchange may take twice as long.
        let deadline = NIODeadline.now() + .nanoseconds(Int64(retry.timeout * 2 * 1_000_000_000))
        let response = try await http.execute(request, deadline: deadline)
        let buffer = try await response.body.collect(upTo: 512 * 1024 * 1024)
        wire.add(sent: WireCounter.size(of: request, url: url, body: body),
                 received: WireCounter.size(of: response, body: buffer.readableBytes))
        return (Int(response.status.code), Array(buffer.readableBytesView))
    }
}
