import Foundation
import HTTPTypes
import Hummingbird
import KMKModel
import KMKReplica
import KMKSync
import NIOCore

/// One route the hub serves: its method and its path as OpenAPI writes it (`{code}` for a parameter).
package struct HubRoute: Hashable, Sendable, CustomStringConvertible {
    package let method: String
    package let path: String

    package init(_ method: String, _ path: String) {
        self.method = method
        self.path = path
    }

    package var description: String { "\(method) \(path)" }
}

/// The hub's endpoints (SPEC.md §11.3, §12.5).
package struct HubRoutes {
    /// Every route the hub registers. Tests check that it equals the router's registrations and
    /// the routes of `openapi.yaml` at the repository root.
    package static let known: [HubRoute] = [
        HubRoute("GET", "/v1/health"), HubRoute("GET", "/metrics"), HubRoute("POST", "/v1/push"),
        HubRoute("GET", "/v1/changes"), HubRoute("GET", "/v1/checksum"), HubRoute("GET", "/v1/replica"), HubRoute("GET", "/v1/summary"),
        HubRoute("GET", "/v1/reports/national"), HubRoute("GET", "/v1/reports/municipality/{code}"),
        HubRoute("GET", "/"), HubRoute("GET", "/municipality/{code}"), HubRoute("POST", "/login"), HubRoute("GET", "/logout"),
    ]

    /// The paths of ``known`` without parameters, as the metrics label them.
    static let knownPaths: Set<String> = Set(known.map(\.path).filter { !$0.contains("{") })

    let service: HubService
    let metrics: HubMetrics
    let configuration: HubConfiguration

    func register(on router: Router<BasicRequestContext>) {
        router.get("/v1/health") { request, _ in health(request) }
        router.get("/metrics") { request, _ in
            body(await metrics.text(), type: "text/plain; version=0.0.4", request)
        }
        router.post("/v1/push") { request, _ in try await push(request) }
        router.get("/v1/changes") { request, _ in try await pull(request) }
        router.get("/v1/checksum") { request, _ in try await checksum(request) }
        router.get("/v1/replica") { request, _ in try await replica(request) }
        router.get("/v1/summary") { request, _ in try await summary(request) }
        router.get("/v1/reports/national") { request, _ in try await nationalReport(request) }
        router.get("/v1/reports/municipality/:code") { request, context in
            try await municipalityReport(request, code: context.parameters.get("code") ?? "")
        }
        registerDashboard(on: router)
    }

    func json(_ text: String, _ request: Request) -> Response {
        json(bytes: Array(text.utf8), request)
    }

    /// ``json(_:_:)`` for a body already in bytes (a pull page: no copy through a String).
    func json(bytes: [UInt8], _ request: Request) -> Response {
        body(bytes: bytes, type: "application/json; charset=utf-8", request)
    }

    /// A 200 response, gzipped when the client accepts gzip and the body is big enough.
    func body(_ text: String, type: String, _ request: Request) -> Response {
        body(bytes: Array(text.utf8), type: type, request)
    }

    /// ``body(_:type:_:)`` for a body already in bytes.
    func body(bytes: [UInt8], type: String, _ request: Request) -> Response {
        var headers: HTTPFields = [.contentType: type]
        let accepts = request.headers[.acceptEncoding].map { $0.lowercased().contains("gzip") } ?? false
        guard accepts, bytes.count >= configuration.gzipThreshold else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        headers[.contentEncoding] = "gzip"
        headers[.vary] = "Accept-Encoding"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Gzip.compress(bytes))))
    }

    func health(_ request: Request) -> Response {
        json("{\"status\":\"ok\",\"hub\":" + CanonicalJSON.string(service.hubID) + ",\"schema\":\(service.schemaVersion)"
            + ",\"max_batch_changes\":\(configuration.maxBatchChanges),\"max_batch_bytes\":\(configuration.maxBatchBytes)"
            + ",\"page_limit\":\(configuration.pageLimit)}", request)
    }

    /// The scope of the request's bearer token, or 401.
    func scope(_ request: Request) async throws -> HubScope { try await caller(request).scope }

    /// The id and scope of the request's bearer token, or 401.
    func caller(_ request: Request) async throws -> (id: String, scope: HubScope) {
        guard let header = request.headers[.authorization] else {
            throw HubError.unauthorized("no token: send \"Authorization: Bearer TOKEN\" with a token from kmk-sync hub token create")
        }
        guard header.hasPrefix("Bearer "), let caller = try await service.identify(String(header.dropFirst(7))) else {
            throw HubError.unauthorized("the token is wrong or revoked; ask the hub's operator for a new one")
        }
        return caller
    }

    /// Refuses a client that speaks another schema version, saying which side to upgrade.
    func checkSchema(_ version: Int?) throws {
        guard let version else {
            throw HubError.badRequest("say which schema version the client speaks (\"schema\" in the body or ?schema= in the URL)")
        }
        guard version == service.schemaVersion else {
            let side = version < service.schemaVersion ? "upgrade kmk-sync on this replica's machine"
                : "the hub is older: ask its operator to upgrade the hub"
            throw HubError(409, "schema_mismatch", "the client speaks schema \(version) but the hub speaks "
                + "\(service.schemaVersion): \(side)")
        }
    }

    func push(_ request: Request) async throws -> Response {
        let (token, scope) = try await caller(request)
        var request = request
        var bytes: [UInt8]
        do {
            bytes = Array(try await request.collectBody(upTo: configuration.maxBatchBytes).readableBytesView)
        } catch let error as NIOTooManyBytesError {
            throw error
        } catch {
            // A body that breaks HTTP framing (e.g. a bad chunk size) is the client's fault, not the hub's.
            throw HubError.badRequest("the request body could not be read (\(error)); send it with Content-Length "
                + "or as valid chunked encoding")
        }
        if let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" {
            guard encoding == "gzip" else {
                throw HubError(415, "unsupported_encoding", "the hub accepts bodies as gzip or uncompressed, not \(encoding)")
            }
            bytes = try Gzip.decompress(bytes, limit: configuration.maxBatchBytes)
        }
        let batch: PushBatch
        if let read = PushBatch(body: bytes) {
            // The common form, read straight from the bytes (which reads only valid UTF-8): the
            // same checks, in the same order.
            try checkSchema(read.schema)
            try checkCount(read.changes.count)
            batch = read
        } else {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw HubError.badRequest("the body is not UTF-8 text")
            }
            // Anything else is read through the JSON tree, which names what is wrong.
            let parsed: JSONValue
            do { parsed = try JSONValue.parse(text) } catch {
                throw HubError.badRequest("the body is not valid JSON: \(error)")
            }
            let envelope = try PushBatch.envelope(parsed)
            try checkSchema(envelope.schema)
            try checkCount(envelope.changes.count)
            batch = PushBatch(replica: envelope.replica, batch: envelope.batch, schema: envelope.schema,
                              changes: try PushBatch.decodeChanges(envelope.changes))
        }
        switch try await service.push(batch, scope: scope, token: token, maxDrift: configuration.maxDrift) {
        case .accepted(let reply):
            await metrics.push(received: batch.changes.count, applied: reply.applied, duplicate: reply.duplicate)
            return json(reply.json(), request)
        case .gap(let expected):
            throw HubError(409, "batch_gap", "batch \(batch.batch) does not follow the last batch the hub applied for "
                + "replica \(batch.replica); the hub expects batch \(expected)", expectedBatch: expected)
        }
    }

    /// Refuses a batch of more changes than this hub takes.
    func checkCount(_ count: Int) throws {
        guard count <= configuration.maxBatchChanges else {
            throw HubError.tooLarge("the batch holds \(count) changes; this hub takes at most "
                + "\(configuration.maxBatchChanges) per batch")
        }
    }

    func pull(_ request: Request) async throws -> Response {
        let scope = try await scope(request)
        let query = request.uri.queryParameters
        try checkSchema(query["schema"].flatMap { Int($0) })
        var limit = configuration.pageLimit
        if let text = query["limit"] {
            guard let n = Int(text), n >= 1 else { throw HubError.badRequest("limit must be a whole number from 1") }
            limit = min(n, configuration.pageLimit)
        }
        let cursor = query["cursor"].map { String($0).removingPercentEncoding ?? String($0) }
        let nationalOnly: Bool
        switch query["only"].map(String.init) {
        case nil: nationalOnly = false
        case "national"?: nationalOnly = true
        case let other?: throw HubError.badRequest("only=\(other) is not known; only=national pulls national reference data alone")
        }
        switch try await service.pull(cursor: cursor, scope: scope, limit: limit, nationalOnly: nationalOnly) {
        case .page(let page): return json(bytes: page.body(), request)
        case .stale(let why):
            throw HubError(410, "stale_cursor", why + "; pull again from the start (no cursor) and push everything again")
        }
    }

    func checksum(_ request: Request) async throws -> Response {
        let scope = try await scope(request)
        let query = request.uri.queryParameters
        try checkSchema(query["schema"].flatMap { Int($0) })
        guard let code = query["municipality"].map(String.init), Municipality.byCode[code] != nil || code == "national" else {
            throw HubError.badRequest("name the municipality by its kommunkod (?municipality=0484), or ?municipality=national for national reference data")
        }
        guard scope.mayRead(municipality: code == "national" ? nil : code) else {
            throw HubError.forbidden("this token is for \(scope) and may not read municipality \(code)")
        }
        let (sum, count) = try await service.checksum(municipality: code)
        return json("{\"hub\":" + CanonicalJSON.string(service.hubID) + ",\"schema\":\(service.schemaVersion),\"municipality\":"
            + CanonicalJSON.string(code) + ",\"checksum\":\"\(sum)\",\"registers\":\(count)}", request)
    }

    /// The last batch the hub applied from a replica (0: none), so that a replica with nothing to
    /// push still finds a hub restored from an older backup (SPEC.md §11.3, §11.4).
    func replica(_ request: Request) async throws -> Response {
        let scope = try await scope(request)
        let query = request.uri.queryParameters
        try checkSchema(query["schema"].flatMap { Int($0) })
        guard let id = query["id"].map(String.init), RecordID.isValid(id) else {
            throw HubError.badRequest("name the replica by its id (?id=REPLICA_ID)")
        }
        let known = try await service.replica(id.lowercased())
        if let known, known.scope != scope.text {
            throw HubError.forbidden("replica \(id) belongs to \(HubScope(text: known.scope)?.description ?? known.scope), not to \(scope)")
        }
        return json("{\"hub\":" + CanonicalJSON.string(service.hubID) + ",\"schema\":\(service.schemaVersion),\"replica\":"
            + CanonicalJSON.string(id.lowercased()) + ",\"last_batch\":\(known?.lastBatch ?? 0)}", request)
    }

    func summary(_ request: Request) async throws -> Response {
        let scope = try await scope(request)
        let rows = try await service.summary(scope: scope)
        let items = rows.map { row in
            let records = CanonicalJSON.object(row.records.map { ($0.key, String($0.value)) })
            return "{\"municipality\":" + CanonicalJSON.string(row.municipality) + ",\"records\":" + records
                + ",\"replicas\":\(row.replicas),\"last_push\":\(row.lastPush)}"
        }
        return json("{\"hub\":" + CanonicalJSON.string(service.hubID) + ",\"schema\":\(service.schemaVersion),\"municipalities\":["
            + items.joined(separator: ",") + "]}", request)
    }
}
