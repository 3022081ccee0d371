import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// Every route of `openapi.yaml` answers a real hub with a status the file documents, for one
/// valid and one unauthenticated request. (That the file's routes equal the router's is checked
/// in KMKHubTests/OpenAPIRouteTests.)
@Suite("OpenAPI statuses", .serialized)
struct OpenAPITests {
    /// "METHOD /path" → the response statuses documented under it, read line by line: a path at
    /// indent 2 under `paths:`, a method at indent 4, `responses:` at 6 and status keys at 8.
    static func documentedStatuses(_ text: String) -> [String: Set<Int>] {
        var out: [String: Set<Int>] = [:]
        var inPaths = false
        var path: String?
        var operation: String?
        var inResponses = false
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indent = line.prefix { $0 == " " }.count
            let key = (trimmed.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            switch indent {
            case 0: inPaths = key == "paths"; path = nil; operation = nil
            case 2 where inPaths: path = key.hasPrefix("/") ? key : nil; operation = nil
            case 4 where inPaths && path != nil:
                operation = ["get", "post", "put", "delete", "patch"].contains(key) ? "\(key.uppercased()) \(path!)" : nil
                if let operation { out[operation] = [] }
            case 6 where operation != nil: inResponses = key == "responses"
            case 8 where operation != nil && inResponses: if let status = Int(key) { out[operation!]!.insert(status) }
            default: break
            }
        }
        return out
    }

    @Test("each documented route answers a valid and an unauthenticated request with documented statuses")
    func statuses() throws {
        let documented = Self.documentedStatuses(try String(contentsOf: PackageDirectory.url("openapi.yaml"), encoding: .utf8))
        #expect(documented.count >= 12, "\(documented.keys.sorted())")

        let cli = try CLI()
        defer { cli.remove() }
        let hub = try HubProcess(cli: cli)
        defer { hub.stop() }
        let esk = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        let sty = try cli.token(hub: hub, ["--styrgrupp"], file: "sty.token")
        // Data for the reports: a replica's venue, synced.
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: esk)
        #expect(try cli.run("venue", "add", "name=Krogen", "membership=member", "--replica", anna).status == 0)
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        let replica = "11111111-2222-4333-8444-555555555555"
        let clock = HLC(millis: UInt64(Date().timeIntervalSince1970 * 1000), counter: 0).hex
        let push = "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":["
            + "{\"entity\":\"venue\",\"id\":\"\(RecordIDs.make(1))\",\"field\":\"name\",\"value\":\"Krogen\",\"clock\":\"\(clock)\","
            + "\"origin\":\"\(replica)\",\"base\":\"0000000000000000\",\"municipality\":\"0484\"},"
            + "{\"entity\":\"venue\",\"id\":\"\(RecordIDs.make(1))\",\"field\":\"membership\",\"value\":\"member\",\"clock\":\"\(clock)\","
            + "\"origin\":\"\(replica)\",\"base\":\"0000000000000000\",\"municipality\":\"0484\"}]}"

        // Per operation: the valid request (target, token, body) and what an unauthenticated one gets.
        struct Probe {
            let target: String
            let token: String?
            let body: String?
            let valid: Int
            let unauthenticated: Int
        }
        let probes: [String: Probe] = [
            "GET /v1/health": Probe(target: "/v1/health", token: nil, body: nil, valid: 200, unauthenticated: 200),
            "GET /metrics": Probe(target: "/metrics", token: nil, body: nil, valid: 200, unauthenticated: 200),
            "POST /v1/push": Probe(target: "/v1/push", token: esk, body: push, valid: 200, unauthenticated: 401),
            "GET /v1/changes": Probe(target: "/v1/changes?schema=1", token: esk, body: nil, valid: 200, unauthenticated: 401),
            "GET /v1/checksum": Probe(target: "/v1/checksum?schema=1&municipality=0484", token: esk, body: nil, valid: 200, unauthenticated: 401),
            "GET /v1/replica": Probe(target: "/v1/replica?schema=1&id=\(replica)", token: esk, body: nil, valid: 200, unauthenticated: 401),
            "GET /v1/summary": Probe(target: "/v1/summary", token: sty, body: nil, valid: 200, unauthenticated: 401),
            "GET /v1/reports/national": Probe(target: "/v1/reports/national?as_of=2026-12-31", token: sty, body: nil, valid: 200,
                                              unauthenticated: 401),
            "GET /v1/reports/municipality/{code}": Probe(target: "/v1/reports/municipality/0484", token: esk, body: nil, valid: 200,
                                                         unauthenticated: 401),
            "GET /": Probe(target: "/?token=\(sty)", token: nil, body: nil, valid: 200, unauthenticated: 401),
            "GET /municipality/{code}": Probe(target: "/municipality/0484?token=\(sty)", token: nil, body: nil, valid: 200, unauthenticated: 401),
            "POST /login": Probe(target: "/login", token: nil, body: "token=\(sty)", valid: 303, unauthenticated: 401),
            "GET /logout": Probe(target: "/logout", token: nil, body: nil, valid: 303, unauthenticated: 303),
        ]
        #expect(Set(probes.keys) == Set(documented.keys), "routes without a probe: \(Set(documented.keys).subtracting(probes.keys).sorted())")

        let connection = RawConnection(port: UInt16(URL(string: hub.url)!.port!))
        // The push goes first, so the municipality report has data.
        for operation in ["POST /v1/push"] + probes.keys.filter({ $0 != "POST /v1/push" }).sorted() {
            let probe = probes[operation]!
            let method = String(operation.split(separator: " ")[0])
            let statuses = documented[operation] ?? []
            var valid = FuzzCase(operation, method, probe.target, token: probe.token, body: Array((probe.body ?? "").utf8))
            if operation == "POST /login" { valid.headers = [("Content-Type", "application/x-www-form-urlencoded")] }
            let answer = try #require(connection.exchange(valid.request), "\(operation): no answer")
            #expect(answer.status == probe.valid && statuses.contains(answer.status ?? 0),
                    "\(operation) valid: \(answer.status ?? 0) \(String(decoding: answer.body.prefix(200), as: UTF8.self)); documented \(statuses.sorted())")

            let bare = probe.target.replacingOccurrences(of: "token=\(sty)", with: "")
            var anonymous = FuzzCase(operation, method, bare, body: Array((probe.body ?? "").replacingOccurrences(of: sty, with: "").utf8))
            anonymous.headers = valid.headers
            let refused = try #require(connection.exchange(anonymous.request), "\(operation): no answer")
            #expect(refused.status == probe.unauthenticated && statuses.contains(refused.status ?? 0),
                    "\(operation) unauthenticated: \(refused.status ?? 0); documented \(statuses.sorted())")
            if operation.contains("/v1/"), refused.status == 401 {
                let json = try JSONSerialization.jsonObject(with: Data(refused.body)) as? [String: Any]
                #expect(json?["error"] as? String == "unauthorized" && json?["message"] is String)
            }
        }
    }
}
