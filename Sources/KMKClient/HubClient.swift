import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KMKModel
import KMKSync

/// The HTTP side of the protocol (SPEC.md §11.3), over URLSession: one method per endpoint,
/// with retries for connection errors and 5xx, gzip for big push bodies.
public final class HubClient: Sendable {
    public let baseURL: URL
    let token: String
    let retry: RetryPolicy
    let schemaVersion: Int
    let session: URLSession
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
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = retry.timeout
        configuration.timeoutIntervalForResource = retry.timeout * 2
        session = URLSession(configuration: configuration)
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

    public func pull(cursor: String?, limit: Int?, nationalOnly: Bool = false) async throws -> PullPage {
        var query = [URLQueryItem(name: "schema", value: String(schemaVersion))]
        if nationalOnly { query.append(URLQueryItem(name: "only", value: "national")) }
        if let cursor { query.append(URLQueryItem(name: "cursor", value: cursor)) }
        if let limit { query.append(URLQueryItem(name: "limit", value: String(limit))) }
        let body = try await sendBytes("GET", "/v1/changes", query: query, attempts: nil)
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
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        request.timeoutInterval = retry.timeout
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(gzip ? "gzip" : "identity", forHTTPHeaderField: "Accept-Encoding")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            if gzip, body.count >= 1_024 {
                request.httpBody = Data(Gzip.compress(body))
                request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
            } else {
                request.httpBody = Data(body)
            }
        }
        let total = attempts ?? retry.attempts
        var random = SystemRandomNumberGenerator()
        var lastProblem = ""
        for attempt in 1...total {
            if attempt > 1 {
                try await Task.sleep(nanoseconds: retry.delay(beforeRetry: attempt - 1, random: &random) * 1_000_000)
            }
            let data: Data
            let response: URLResponse
            do {
                (data, response) = try await session.data(for: request)
            } catch {
                lastProblem = (error as NSError).localizedDescription
                continue
            }
            guard let http = response as? HTTPURLResponse else { lastProblem = "not an HTTP answer"; continue }
            wire.add(sent: WireCounter.size(of: request), received: WireCounter.size(of: http, body: WireCounter.bodySize(http, data)))
            var bytes = [UInt8](data)
            if Gzip.isGzip(bytes) { bytes = (try? Gzip.decompress(bytes, limit: 512 * 1024 * 1024)) ?? bytes }
            if http.statusCode >= 500 {
                let text = String(decoding: bytes, as: UTF8.self)
                lastProblem = "HTTP \(http.statusCode)" + (WireError(status: http.statusCode, body: text).map { ": \($0.message)" } ?? "")
                continue
            }
            guard http.statusCode == 200 else {
                if let e = WireError(status: http.statusCode, body: String(decoding: bytes, as: UTF8.self)) { throw e }
                throw ClientError(.protocolError, "\(baseURL) answered \(method) \(path) with HTTP \(http.statusCode) and no "
                    + "kmk-sync error body: is the URL a kmk-sync hub?")
            }
            return bytes
        }
        throw ClientError(.unavailable, "the hub at \(baseURL) is unavailable after \(total) attempt\(total == 1 ? "" : "s") "
            + "(\(lastProblem)); nothing was lost: the changes stay pending. Try again later")
    }
}
