import Foundation
import KMKTestSupport
import KMKModel
import KMKSync
import Testing

/// A keep-alive HTTP/1.1 connection to 127.0.0.1 over one socket, sending exact bytes (the
/// fuzzer needs both speed and control of every byte). Reconnects when the hub closed it.
final class RawConnection {
    let port: UInt16
    private var fd: Int32 = -1

    init(port: UInt16) { self.port = port }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends one request and reads its answer; nil when three tries got none.
    func exchange(_ request: [UInt8]) -> LoopbackSocket.Message? {
        for _ in 0..<3 {
            if fd < 0 {
                guard let c = LoopbackSocket.connectLoopback(port: port) else { usleep(20_000); continue }
                fd = c
            }
            _ = LoopbackSocket.sendAll(fd, request)
            if let answer = LoopbackSocket.readMessage(fd) {
                if answer.header("connection")?.lowercased() == "close" { close(fd); fd = -1 }
                return answer
            }
            close(fd)
            fd = -1
        }
        return nil
    }
}

/// One hostile request.
struct FuzzCase {
    var label: String
    var method = "GET"
    var target: [UInt8]
    /// Sent as `Authorization: Bearer TOKEN` when set.
    var token: String?
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    /// Send the body with `Transfer-Encoding: chunked`, in two chunks.
    var chunked = false
    /// Bytes to send instead of a well-formed request (HTTP framing the parser must refuse):
    /// sent on a fresh connection; the answer must be a 4xx, JSON or not.
    var raw: [UInt8]?

    init(_ label: String, _ method: String = "GET", _ target: String, token: String? = nil, body: [UInt8] = []) {
        self.label = label
        self.method = method
        self.target = Array(target.utf8)
        self.token = token
        self.body = body
    }

    var request: [UInt8] {
        var head = "\(method) "
        var out = Array(head.utf8) + target
        head = " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let raw { return raw }
        if chunked {
            head += "Transfer-Encoding: chunked\r\n\r\n"
            let half = body.count / 2
            for part in [body[..<half], body[half...]] where !part.isEmpty {
                head += String(part.count, radix: 16) + "\r\n"
                out += Array(head.utf8) + part
                head = "\r\n"
            }
            return out + Array((head + "0\r\n\r\n").utf8)
        }
        if method != "GET" || !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        out += Array(head.utf8)
        return out + body
    }
}

/// What the generator knows about the hub under test.
struct FuzzWorld: Sendable {
    let hubID: String
    /// Valid tokens by scope: "0484", "1780", "styrgrupp".
    let tokens: [String: String]
    /// A replica that pushed for Eskilstuna (0484).
    let eskilstunaReplica: String
    let lastSeq: Int64
    let maxBatchBytes: Int
    let maxBatchChanges: Int
    /// The hub runs with `--max-drift-seconds 3600`.
    let maxDriftMillis: UInt64 = 3_600_000
    /// A gzip body that inflates past the hub's limit.
    let bomb: [UInt8]

    func scope(of token: String?) -> HubScope? {
        guard let token else { return nil }
        return tokens.first { $0.value == token }.flatMap { HubScope(text: $0.key) }
    }
}

/// Hostile input at the hub (issue 6): at least 10,000 cases (`KMK_FUZZ_CASES`), seeded
/// (`KMK_FUZZ_SEED`), against one real hub process. Every case must get a 4xx with a JSON
/// `error` and `message`; nothing may be written; the hub stays up and keeps serving a
/// well-behaved client throughout.
@Suite("hub fuzz", .serialized)
struct HubFuzzTests {
    static let sqlLike = ["'; DROP TABLE hub_register; --", "\" OR 1=1 --", "venue; DELETE FROM hub_replica", "1' OR '1'='1",
                          "0484' --", "Robert'); DROP TABLE hub_token;--", "%' OR 1=1 --", "') UNION SELECT hash FROM hub_token --",
                          "*", "`hub_meta`", "[venue]", "?", "?1", ":name", "@x", "$1", "venue\"", "hub_register", "sqlite_master"]
    static let unknownEntities = ["", "venues", "Venue", "VENUE", "venue ", " venue", "kmk_meta", "__proto__", "constructor",
                                  "vénue", "drug-test", "criteria-set", "null", "0", "$cl"]
    static let unknownFields = ["", "nam", "NAME", "name ", "$cl2", "$", "contact_person", "contact_email", "notes", "rowid",
                                "_rowid_", "oid", "id", "municipality", "namn"]
    static let badUTF8: [[UInt8]] = [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE2, 0x82],
                                     [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE, 0xFF]]
    static let badBatches = ["-1", "0", "-9223372036854775808", "1.5", "1e3", "1E0", "\"1\"", "null", "true", "[]", "{}",
                             "99999999999999999999", "9223372036854775807", "9223372036854775808", "2", "1000000", "-0",
                             "1.0", "0.5", "-1e400", "1e400"]
    static let badSchemas = ["2", "0", "-1", "\"1\"", "1.0", "null", "999999999999999999999", "1e0", "[1]", "true"]

    static func uuid(_ g: inout SplitMix64) -> String {
        let hex = (0..<32).map { _ in String(Int.random(in: 0..<16, using: &g), radix: 16) }
        var s = hex.joined()
        s = String(s.prefix(12)) + "4" + String(s.dropFirst(13))
        let a = Array(s)
        return String(a[0..<8]) + "-" + String(a[8..<12]) + "-" + String(a[12..<16]) + "-8" + String(a[17..<20]) + "-" + String(a[20..<32])
    }

    static func quoted(_ s: String) -> String { CanonicalJSON.string(s) }

    static func nowClock() -> HLC { HLC(millis: UInt64(Date().timeIntervalSince1970 * 1000), counter: 0) }

    /// One change as JSON text; each part raw JSON so a case can put anything anywhere.
    static func change(entity: String = "\"venue\"", id: String, field: String = "\"name\"", value: String = "\"Krog Fuzz\"",
                       clock: String, origin: String, base: String = "\"0000000000000000\"", municipality: String) -> String {
        "{\"entity\":\(entity),\"id\":\(id),\"field\":\(field),\"value\":\(value),\"clock\":\(clock),\"origin\":\(origin),"
            + "\"base\":\(base),\"municipality\":\(municipality)}"
    }

    static func envelope(replica: String, batch: String = "1", schema: String? = "1", changes: [String]) -> String {
        "{\"replica\":\(replica),\"batch\":\(batch)" + (schema.map { ",\"schema\":\($0)" } ?? "") + ",\"changes\":["
            + changes.joined(separator: ",\n") + "]}"
    }

    /// A well-formed batch for `municipality` from a fresh replica: valid as it stands. Every
    /// case spoils it (and ``mightWrite(_:_:)`` checks that it did).
    static func template(_ g: inout SplitMix64, municipality: String, count: Int = 0) -> (replica: String, changes: [String]) {
        let replica = uuid(&g)
        let n = count > 0 ? count : Int.random(in: 1...4, using: &g)
        let clock = quoted(nowClock().hex)
        let changes = (0..<n).map { i in
            change(id: quoted(uuid(&g)), value: quoted("Krog \(i)"), clock: clock, origin: quoted(replica), municipality: quoted(municipality))
        }
        return (replica, changes)
    }

    static func mutate(_ bytes: [UInt8], _ g: inout SplitMix64) -> [UInt8] {
        var b = bytes
        for _ in 0..<Int.random(in: 1...6, using: &g) where !b.isEmpty {
            let i = Int.random(in: 0..<b.count, using: &g)
            switch Int.random(in: 0..<7, using: &g) {
            case 0: b[i] = UInt8.random(in: 0...255, using: &g)
            case 1: b.removeSubrange(i..<min(b.count, i + Int.random(in: 1...20, using: &g)))
            case 2: b.insert(contentsOf: (0..<Int.random(in: 1...8, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }, at: i)
            case 3:
                let j = min(b.count, i + Int.random(in: 1...40, using: &g))
                b.insert(contentsOf: Array(b[i..<j]), at: j)
            case 4: b[i] = Array("0123456789\"{}[],:-".utf8).randomElement(using: &g)!
            case 5: b = Array(b[..<i])
            default: b[i] ^= 1 << UInt8.random(in: 0..<8, using: &g)
            }
        }
        return b
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    static func make(_ index: Int, _ w: FuzzWorld, _ g: inout SplitMix64) -> FuzzCase {
        let own = ["0484", "1780"].randomElement(using: &g)!
        let token = w.tokens[own]!
        let (replica, changes) = template(&g, municipality: own)
        let valid = envelope(replica: quoted(replica), changes: changes)
        func push(_ label: String, _ body: String, token: String? = token) -> FuzzCase {
            FuzzCase(label, "POST", "/v1/push", token: token, body: Array(body.utf8))
        }
        func pushBytes(_ label: String, _ body: [UInt8], token: String? = token) -> FuzzCase {
            FuzzCase(label, "POST", "/v1/push", token: token, body: body)
        }
        let clock = quoted(nowClock().hex)
        switch Int.random(in: 0..<23, using: &g) {
        case 0:
            return pushBytes("random bytes", (0..<Int.random(in: 0...2_000, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) })
        case 1, 2:
            return pushBytes("mutated batch", mutate(Array(valid.utf8), &g))
        case 3:
            let zipped = Gzip.compress(Array(valid.utf8))
            var c = pushBytes("truncated gzip", Array(zipped[..<Int.random(in: 0..<zipped.count, using: &g)]))
            c.headers = [("Content-Encoding", "gzip")]
            return c
        case 4:
            let body: [UInt8]
            switch Int.random(in: 0..<3, using: &g) {
            case 0: body = w.bomb
            case 1: body = [0x1F, 0x8B, 0x08, 0x00] + (0..<Int.random(in: 0...500, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            default: body = mutate(Gzip.compress(Array(valid.utf8)), &g)
            }
            var c = pushBytes("bad gzip", body)
            c.headers = [("Content-Encoding", ["gzip", "GZIP", "Gzip"].randomElement(using: &g)!)]
            return c
        case 5:
            let n = Int.random(in: 60...30_000, using: &g)
            switch Int.random(in: 0..<4, using: &g) {
            case 0: return push("deep arrays \(n)", String(repeating: "[", count: n) + String(repeating: "]", count: Int.random(in: 0...n, using: &g)))
            case 1: return push("deep objects \(n)", String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n))
            case 2:
                return push("deep changes \(n)", envelope(replica: quoted(replica), changes: [String(repeating: "[", count: n)
                    + String(repeating: "]", count: n)]))
            default:
                let d = Int.random(in: 1...80, using: &g)
                let value = String(repeating: "[", count: d) + "\"x\"" + String(repeating: "]", count: d)
                return push("deep value \(d)", envelope(replica: quoted(replica), changes: [change(
                    id: quoted(uuid(&g)), value: value, clock: clock, origin: quoted(replica), municipality: quoted(own))]))
            }
        case 6:
            let length = [70_000, 150_000, w.maxBatchBytes + 10].randomElement(using: &g)!
            let huge = quoted(String(repeating: ["x", "å", "\\", "🦉"].randomElement(using: &g)!, count: length / 4))
            let id = quoted(uuid(&g))
            let slot = Int.random(in: 0..<7, using: &g)
            let c = change(entity: slot == 0 ? huge : "\"venue\"", id: slot == 1 ? huge : id, field: slot == 2 ? huge : "\"name\"",
                           value: slot == 3 ? huge : "\"Krog\"", clock: slot == 4 ? huge : clock, origin: quoted(replica),
                           municipality: slot == 5 ? huge : quoted(own))
            return push("huge string in slot \(slot)", envelope(replica: slot == 6 ? huge : quoted(replica), changes: [c]))
        case 7:
            let entity = Bool.random(using: &g) ? unknownEntities.randomElement(using: &g)! : "venue"
            let field = entity == "venue" ? unknownFields.randomElement(using: &g)! : "name"
            return push("unknown \(quoted(entity)).\(quoted(field))", envelope(replica: quoted(replica), changes: changes + [change(
                entity: quoted(entity), id: quoted(uuid(&g)), field: quoted(field), clock: clock, origin: quoted(replica),
                municipality: quoted(own))]))
        case 8:
            let sql = quoted(sqlLike.randomElement(using: &g)!)
            let slot = Int.random(in: 0..<8, using: &g)
            let c = change(entity: slot == 0 ? sql : "\"venue\"", id: slot == 1 ? sql : quoted(uuid(&g)), field: slot == 2 ? sql : "\"name\"",
                           value: slot == 3 ? sql : "\"Krog\"", clock: slot == 4 ? sql : clock, origin: slot == 5 ? sql : quoted(replica),
                           base: slot == 6 ? sql : "\"0000000000000000\"", municipality: slot == 7 ? sql : quoted(own))
            let sqlReplica = Bool.random(using: &g)
            return push("SQL-like in slot \(slot)\(sqlReplica ? " and replica" : "")",
                        envelope(replica: sqlReplica ? sql : quoted(replica), changes: [c]))
        case 9:
            var body = Array(valid.utf8)
            let quotes = body.indices.filter { body[$0] == UInt8(ascii: "\"") }
            let at = quotes.randomElement(using: &g)! + 1
            if Bool.random(using: &g) {
                body.insert(contentsOf: badUTF8.randomElement(using: &g)!, at: at)
                return pushBytes("invalid UTF-8", body)
            }
            let escape = ["\\ud800", "\\udc00\\ud800", "\\u0000", "\\ud83e", "\\uDFFF", "\\u", "\\x41", "\\uZZZZ"].randomElement(using: &g)!
            body.insert(contentsOf: Array(escape.utf8), at: at)
            return pushBytes("bad escape \(escape)", body)
        case 10:
            let batch = badBatches.randomElement(using: &g)!
            return push("batch \(batch)", envelope(replica: quoted(replica), batch: batch, changes: changes))
        case 11:
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            let ahead: [UInt64] = [w.maxDriftMillis + 2 * 3_600_000, 86_400_000, 10 * 31_557_600_000, 1_000 * 31_557_600_000]
            let future = HLC(millis: min(now + ahead.randomElement(using: &g)!, (1 << 48) - 1), counter: 0).hex
            let text = [future, "ffffffffffffffff", "7fffffffffffffff", "8000000000000000"].randomElement(using: &g)!
            let c = change(id: quoted(uuid(&g)), clock: quoted(text), origin: quoted(replica), municipality: quoted(own))
            return push("far-future clock \(text)", envelope(replica: quoted(replica), changes: changes + [c]))
        case 12:
            switch Int.random(in: 0..<4, using: &g) {
            case 0:
                let (_, theirs) = template(&g, municipality: "1780")
                return push("Eskilstuna's replica with Karlstad's token", envelope(
                    replica: quoted(w.eskilstunaReplica), batch: String(Int.random(in: 1...5, using: &g)), changes: theirs), token: w.tokens["1780"])
            case 1:
                let other = own == "0484" ? "1780" : "0484"
                let (_, theirs) = template(&g, municipality: other)
                return push("another municipality's records", envelope(replica: quoted(replica), changes: theirs))
            case 2:
                return push("styrgrupp writes municipal records", valid, token: w.tokens["styrgrupp"])
            default:
                let c = change(entity: "\"criteria_set\"", id: quoted(uuid(&g)), value: "\"Fuzz\"", clock: clock, origin: quoted(replica),
                               municipality: "null")
                return push("municipality writes national data", envelope(replica: quoted(replica), changes: [c]))
            }
        case 13:
            let schema = Bool.random(using: &g) ? badSchemas.randomElement(using: &g)! : nil
            return push("schema \(schema ?? "missing")", envelope(replica: quoted(replica), schema: schema, changes: changes))
        case 14:
            let (r, many) = template(&g, municipality: own, count: w.maxBatchChanges + Int.random(in: 1...20, using: &g))
            return push("\(many.count) changes", envelope(replica: quoted(r), changes: many))
        case 15:
            return badAuth(w, &g, validBody: valid)
        case 16:
            var c = push("encoding", valid)
            let encoding = ["br", "deflate", "compress", "x-gzip", "gzip, br", "zstd", "*", "gzip;q=1", "chunked", "identity;x"].randomElement(using: &g)!
            c.headers = [("Content-Encoding", encoding)]
            c.label = "Content-Encoding: \(encoding)"
            return c
        case 17:
            let shapes = ["[]", "{}", "null", "1", "\"x\"", "true", "", " ", "{\"replica\":1,\"batch\":1,\"schema\":1,\"changes\":[]}",
                          envelope(replica: "null", changes: changes), envelope(replica: quoted("not-a-uuid"), changes: changes),
                          envelope(replica: quoted(replica.replacingOccurrences(of: "-", with: "")), changes: changes),
                          envelope(replica: quoted("{" + replica + "}"), changes: changes),
                          "{\"replica\":\(quoted(replica)),\"batch\":1,\"schema\":1,\"changes\":{}}",
                          "{\"replica\":\(quoted(replica)),\"batch\":1,\"schema\":1,\"changes\":null}",
                          "{\"replica\":\(quoted(replica)),\"batch\":1,\"schema\":1}",
                          envelope(replica: quoted(replica), changes: ["null"]), envelope(replica: quoted(replica), changes: ["1"]),
                          envelope(replica: quoted(replica), changes: ["[]"]), envelope(replica: quoted(replica), changes: ["\"\""]),
                          envelope(replica: quoted(replica), changes: changes) + "x", envelope(replica: quoted(replica), changes: changes) + "{}"]
            let body = shapes.randomElement(using: &g)!
            return push("shape \(body.prefix(40))", body)
        case 18:
            return changesCase(w, &g, token: token)
        case 19:
            return checksumCase(w, &g, own: own, token: token)
        case 20:
            return reportCase(w, &g, own: own, token: token)
        case 21:
            if Int.random(in: 0..<4, using: &g) == 0 { return malformed(&g, token: token) }
            var c = pushBytes("chunked", Bool.random(using: &g) ? mutate(Array(valid.utf8), &g) : Array(valid.utf8))
            c.chunked = true
            if !mightWrite(c, w) { return c }
            // Still valid after mutation: spoil the batch number instead.
            c.body = Array(envelope(replica: quoted(replica), batch: "0", changes: changes).utf8)
            return c
        default:
            return unknownRoute(&g, token: token)
        }
    }

    static func badAuth(_ w: FuzzWorld, _ g: inout SplitMix64, validBody: String) -> FuzzCase {
        let routes: [(String, String)] = [("POST", "/v1/push"), ("GET", "/v1/changes?schema=1"), ("GET", "/v1/checksum?schema=1&municipality=0484"),
                                          ("GET", "/v1/summary"), ("GET", "/v1/reports/national"), ("GET", "/v1/reports/municipality/0484")]
        let (method, target) = routes.randomElement(using: &g)!
        var c = FuzzCase("bad token", method, target, body: method == "POST" ? Array(validBody.utf8) : [])
        let headers: [String?] = [nil, "Bearer", "Bearer ", "Bearer kmk_" + String(repeating: "0", count: 64), "Bearer kmk_" + String(repeating: "a", count: 63),
                                  "Bearer " + w.tokens["0484"]! + "x", "Bearer ' OR 1=1 --", "Basic dXNlcjpwYXNz", "Bearer " + String(repeating: "k", count: 6_000),
                                  "Token " + w.tokens["0484"]!, "Bearer kmk_' OR '1'='1", "Bearer " + String(w.tokens["1780"]!.dropLast()), "Bearer null"]
        if let h = headers.randomElement(using: &g)! { c.headers = [("Authorization", h)] }
        c.label = "bad token \(String(describing: c.headers.first?.1.prefix(30))) on \(method) \(target)"
        return c
    }

    static func cursor(_ w: FuzzWorld, _ g: inout SplitMix64) -> String {
        let tag = "zz" + String(UInt64.random(in: 0...UInt64.max, using: &g), radix: 16)
        let raw: String
        switch Int.random(in: 0..<9, using: &g) {
        case 0: raw = "x"
        case 1: raw = String((0..<Int.random(in: 1...60, using: &g)).map { _ in Character(UnicodeScalar(UInt8.random(in: 33...126, using: &g))) })
        case 2: raw = "c1.\(uuid(&g)).\(Int.random(in: 0...1_000, using: &g)).\(tag)"
        case 3: raw = "c1.\(w.hubID).\(w.lastSeq + Int64.random(in: 1...1_000_000, using: &g)).\(tag)"
        case 4: raw = "c1.\(w.hubID).\(Int64.random(in: 0...max(1, w.lastSeq), using: &g)).\(tag)"
        case 5: raw = ["c1.\(w.hubID).-1.0", "c1.\(w.hubID).99999999999999999999.0", "c2.\(w.hubID).1.0", "c1..1.0", "c1.\(w.hubID).1.0.extra",
                       "c1.\(w.hubID)", "c1", "c1.\(w.hubID).1", "C1.\(w.hubID).1.x"].randomElement(using: &g)!
        case 6: raw = "c1.\(w.hubID).\(sqlLike.randomElement(using: &g)!).0"
        case 7: raw = "c1.\(sqlLike.randomElement(using: &g)!).1.1"
        default: raw = "c1.\(w.hubID).1." + sqlLike.randomElement(using: &g)!
        }
        return raw.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? raw
    }

    static func changesCase(_ w: FuzzWorld, _ g: inout SplitMix64, token: String) -> FuzzCase {
        let badSchema = ["", "schema=2", "schema=0", "schema=abc", "schema=", "schema=1.0", "schema=%FF", "schema=99999999999999999999", "schema=-1"]
        var params: [String] = []
        var bad: [String] = []
        switch Int.random(in: 0..<5, using: &g) {
        case 0: bad.append(badSchema.randomElement(using: &g)!)
        case 1: bad.append(["limit=0", "limit=-5", "limit=abc", "limit=", "limit=1e3", "limit=99999999999999999999", "limit=%FF"].randomElement(using: &g)!)
        case 2: bad.append(["only=", "only=municipal", "only=NATIONAL", "only=national'--", "only=%C0%AF", "only=%00"].randomElement(using: &g)!)
        default: bad.append("cursor=" + cursor(w, &g))
        }
        if !bad[0].isEmpty, !bad[0].hasPrefix("schema") { params.append("schema=1") }
        if !bad[0].hasPrefix("limit"), Bool.random(using: &g) { params.append("limit=\(Int.random(in: 1...5_000, using: &g))") }
        params += bad
        params.shuffle(using: &g)
        let target = "/v1/changes?" + params.filter { !$0.isEmpty }.joined(separator: "&")
        return FuzzCase("changes \(bad[0].prefix(60))", "GET", target, token: token)
    }

    static func checksumCase(_ w: FuzzWorld, _ g: inout SplitMix64, own: String, token: String) -> FuzzCase {
        let other = own == "0484" ? "1780" : "0484"
        let municipality = ["", "municipality=", "municipality=\(other)", "municipality=9999", "municipality=0000", "municipality=Eskilstuna",
                            "municipality=NATIONAL", "municipality=0484%27%20OR%201%3D1", "municipality=%FF%FE", "municipality=%00",
                            "municipality=" + (sqlLike.randomElement(using: &g)!.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x")]
        if Bool.random(using: &g) {
            let m = municipality.randomElement(using: &g)!
            return FuzzCase("checksum \(m)", "GET", "/v1/checksum?schema=1" + (m.isEmpty ? "" : "&" + m), token: token)
        }
        let schema = ["", "schema=2", "schema=x", "schema=", "schema=0"].randomElement(using: &g)!
        return FuzzCase("checksum \(schema)", "GET", "/v1/checksum?municipality=\(own)" + (schema.isEmpty ? "" : "&" + schema), token: token)
    }

    static func reportCase(_ w: FuzzWorld, _ g: inout SplitMix64, own: String, token: String) -> FuzzCase {
        let badDates = ["x", "2016-13-01", "2016-02-30", "20161231", "2016-12-31T00:00:00Z", "%FF", "-1", "99999-01-01", "2016-1-1", "%27%20OR%201%3D1"]
        let sty = w.tokens["styrgrupp"]!
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return FuzzCase("national report, municipality token", "GET", "/v1/reports/national", token: token)
        case 1:
            let d = badDates.randomElement(using: &g)!
            return FuzzCase("national report as_of=\(d)", "GET", "/v1/reports/national?as_of=\(d)", token: sty)
        case 2:
            let code = ["9999", "0000", "x", "048", "04840", "%FF", "0484%27", "%2e%2e", "national", "styrgrupp"].randomElement(using: &g)!
            return FuzzCase("report of \(code)", "GET", "/v1/reports/municipality/\(code)", token: sty)
        case 3:
            return FuzzCase("another municipality's report", "GET", "/v1/reports/municipality/\(own == "0484" ? "1780" : "0484")", token: token)
        case 4: return FuzzCase("report of a municipality without data", "GET", "/v1/reports/municipality/0180", token: sty)
        default:
            let d = badDates.randomElement(using: &g)!
            return FuzzCase("own report as_of=\(d)", "GET", "/v1/reports/municipality/\(own)?as_of=\(d)", token: token)
        }
    }

    /// Requests that break HTTP/1.1 itself; the HTTP layer refuses them before any route runs.
    static func malformed(_ g: inout SplitMix64, token: String) -> FuzzCase {
        let auth = "Authorization: Bearer \(token)\r\n"
        let texts: [[UInt8]] = [
            Array("GET /v1/".utf8) + [0xFF] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
            Array("GET /v1/changes?schema=".utf8) + [0xC3, 0xA5] + Array(" HTTP/1.1\r\nHost: x\r\n\(auth)\r\n".utf8),
            Array("GARBAGE\r\n\r\n".utf8),
            Array("POST /v1/push HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: -5\r\n\r\n".utf8),
            Array("POST /v1/push HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}".utf8),
            Array("POST /v1/push HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".utf8),
            Array("POST /v1/push HTTP/1.1\r\nHost: x\r\n\(auth)Transfer-Encoding: chunked\r\n\r\n5\r\n{}\r\n0\r\n\r\n".utf8),
            Array("GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n".utf8),
            Array("GET /v1/health HTTP/1.1\r\nHost: x\r\nX: a".utf8) + [0] + Array("b\r\n\r\n".utf8),
            Array("GET /v1/health HTTP/1.1\r\n\(String(repeating: "X-Long: \(String(repeating: "y", count: 8_000))\r\n", count: 20))\r\n".utf8),
        ]
        let i = Int.random(in: 0..<texts.count, using: &g)
        var c = FuzzCase("malformed HTTP #\(i)", "GET", "/")
        c.raw = texts[i]
        return c
    }

    static func unknownRoute(_ g: inout SplitMix64, token: String) -> FuzzCase {
        let paths = ["/v1/pushx", "/v2/push", "/v1", "/v1/", "/v1/changes/1", "/v1/reports", "/v1/reports/municipality/0484/x",
                     "/%2e%2e/v1/push", "/v1/%00", "/.env", "/v1/health/x", "/v1/summary/0484", "/v1/" + String(repeating: "a", count: 3_000),
                     "/v1/changes%00", "/v1/checksum/../push", "/V1/PUSH", "/v1/reports/national/x"]
        let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
        if Bool.random(using: &g) {
            // A known API route with a method it does not take.
            let wrong: [(String, String)] = [("GET", "/v1/push"), ("PUT", "/v1/push"), ("DELETE", "/v1/push"), ("POST", "/v1/changes"),
                                             ("DELETE", "/v1/changes"), ("POST", "/v1/checksum"), ("PUT", "/v1/summary"),
                                             ("POST", "/v1/health"), ("DELETE", "/v1/reports/national"), ("PATCH", "/v1/reports/municipality/0484")]
            let (m, p) = wrong.randomElement(using: &g)!
            return FuzzCase("\(m) \(p)", m, p, token: token, body: m == "GET" ? [] : Array("{\"x\":1}".utf8))
        }
        let method = methods.randomElement(using: &g)!
        let path = paths.randomElement(using: &g)!
        return FuzzCase("\(method) \(path.prefix(40))", method, path, token: token,
                        body: method == "GET" ? [] : (0..<Int.random(in: 0...100, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// Whether a push case could be accepted (and so write): the fuzzer must never send one.
    static func mightWrite(_ c: FuzzCase, _ w: FuzzWorld) -> Bool {
        guard c.method == "POST", c.target == Array("/v1/push".utf8), c.headers.allSatisfy({ $0.0 != "Authorization" }),
              let scope = w.scope(of: c.token) else { return false }
        var bytes = c.body
        if let encoding = c.headers.first(where: { $0.0 == "Content-Encoding" })?.1.lowercased(), encoding != "identity" {
            guard encoding == "gzip", let inflated = try? Gzip.decompress(bytes, limit: w.maxBatchBytes) else { return false }
            bytes = inflated
        }
        guard c.body.count <= w.maxBatchBytes, let text = String(validating: bytes, as: UTF8.self),
              let json = try? JSONValue.parse(text), let envelope = try? PushBatch.envelope(json), envelope.schema == 1,
              envelope.changes.count <= w.maxBatchChanges, let changes = try? PushBatch.decodeChanges(envelope.changes),
              changes.allSatisfy({ scope.mayWrite(municipality: $0.municipality) }) else { return false }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        if changes.contains(where: { $0.clock.millis > now + w.maxDriftMillis + 600_000 }) { return false }
        if envelope.replica == w.eskilstunaReplica { return scope == .municipality("0484") }
        return envelope.batch == 1
    }

    static func sqlite(_ db: String, _ sql: String) throws -> String {
        let r = try SQLiteShell.run(db, sql, readOnly: true)
        return r.stdout + r.stderr
    }

    /// Everything that a write would change: checksums, summary, store row counts and metrics.
    static func snapshot(_ hub: HubProcess, _ tokens: [String: String]) async throws -> [String] {
        var out: [String] = []
        for (m, t) in [("0484", "0484"), ("1780", "1780"), ("national", "styrgrupp")] {
            out.append(try await RawHTTP.send("GET", hub.url + "/v1/checksum?schema=1&municipality=\(m)", token: tokens[t]).body)
        }
        out.append(try await RawHTTP.send("GET", hub.url + "/v1/summary", token: tokens["styrgrupp"]).body)
        out.append(try sqlite(hub.db, "SELECT (SELECT count(*) FROM hub_register), (SELECT count(*) FROM hub_replica), "
            + "(SELECT count(*) FROM hub_commit), (SELECT count(*) FROM hub_site), (SELECT count(*) FROM hub_token), "
            + "(SELECT value FROM hub_meta WHERE key = 'seq'), "
            + "(SELECT group_concat(replica || ':' || municipality || ':' || last_batch || ':' || last_push_at || ':' || changes) FROM hub_replica)"))
        let metrics = try await RawHTTP.send("GET", hub.url + "/metrics").body
        out += metrics.split(separator: "\n").filter {
            $0.hasPrefix("kmk_hub_changes_applied_total") || $0.hasPrefix("kmk_hub_push_batches_total")
                || $0.hasPrefix("kmk_hub_changes_received_total")
        }.map(String.init)
        return out
    }

    @Test("10,000 hostile requests: every one a 4xx with a JSON error, zero writes, the hub up and serving others")
    func hostileInput() async throws {
        let env = ProcessInfo.processInfo.environment
        let total = env["KMK_FUZZ_CASES"].flatMap(Int.init) ?? 10_000
        let seed = SplitMix64.seed(from: "KMK_FUZZ_SEED")
        print("hub fuzz: seed \(seed) (replay with KMK_FUZZ_SEED=\(seed)), \(total) cases")
        var cli = try CLI()
        defer { cli.remove() }
        cli.environment["KMK_RETRY_BASE_MS"] = "5"
        let maxBytes = 262_144
        let maxChanges = 40
        // The limits are pinned: the fuzzer's far-future clocks and its validity check depend on them.
        let hub = try HubProcess(cli: cli, arguments: ["--max-batch-bytes", String(maxBytes), "--max-batch-changes", String(maxChanges),
                                                       "--max-drift-seconds", "3600", "--log-level", "warning"])
        defer { hub.stop() }
        var tokens: [String: String] = [:]
        tokens["0484"] = try cli.token(hub: hub, ["--municipality", "0484"], file: "esk.token")
        tokens["1780"] = try cli.token(hub: hub, ["--municipality", "1780"], file: "kar.token")
        tokens["styrgrupp"] = try cli.token(hub: hub, ["--styrgrupp"], file: "sty.token")

        // Real data first: the styrgrupp's criteria, and a replica of each municipality.
        let sty = cli.path("sty.kmk")
        #expect(try cli.run("init", sty, "--national").status == 0)
        #expect(try cli.run("remote", "set", hub.url, "--replica", sty).status == 0)
        #expect(try cli.run("criteria", "publish-default", "--replica", sty).status == 0)
        #expect(try cli.run("sync", "--replica", sty, "--token-file", cli.path("sty.token")).status == 0)
        let anna = try cli.replica("anna.kmk", "0484", hub: hub, token: tokens["0484"]!)
        let cia = try cli.replica("cia.kmk", "1780", hub: hub, token: tokens["1780"]!)
        for (r, name) in [(anna, "Krogen Påhittad"), (cia, "Karlstads krog")] {
            #expect(try cli.run("venue", "add", "name=\(name)", "membership=member", "--replica", r).status == 0)
            #expect(try cli.run("sync", "--replica", r).status == 0)
        }
        #expect(try cli.run("sync", "--replica", anna).status == 0)
        let annaStatus = try cli.status(anna)
        #expect(annaStatus["pending"] as? Int == 0 && annaStatus["in_step"] as? Bool == true, "\(annaStatus)")
        let annaID = try Self.sqlite(anna, "SELECT value FROM kmk_meta WHERE key = 'replica_id'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.sqlite(hub.db, "SELECT municipality FROM hub_replica WHERE replica = '\(annaID)'").hasPrefix("0484"))
        let health = try await RawHTTP.send("GET", hub.url + "/v1/health")
        let hubID = try #require(health.headers["kmk-hub"])
        let lastSeq = Int64(try Self.sqlite(hub.db, "SELECT value FROM hub_meta WHERE key = 'seq'")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let bomb = Gzip.compress([UInt8](repeating: 0x20, count: maxBytes * 3))
        let world = FuzzWorld(hubID: hubID, tokens: tokens, eskilstunaReplica: annaID, lastSeq: lastSeq, maxBatchBytes: maxBytes,
                              maxBatchChanges: maxChanges, bomb: bomb)
        let before = try await Self.snapshot(hub, tokens)
        let port = UInt16(URL(string: hub.url)!.port!)

        // A well-behaved client throughout: valid pulls and checksums, and now and then a real sync.
        let neighbour = Neighbour(port: port, token: tokens["0484"]!, checksum: before[0], cli: cli, replica: anna)
        neighbour.start()

        let failures = Failures()
        let workers = 6
        let started = Date()
        let deadline = started.addingTimeInterval(240)
        let group = DispatchGroup()
        for w in 0..<workers {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                let connection = RawConnection(port: port)
                var i = w
                while i < total, Date() < deadline {
                    var g = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
                    var c = Self.make(i, world, &g)
                    if Self.mightWrite(c, world) {
                        // A spoiled batch that is still valid: send it with a token nobody holds.
                        c.token = "kmk_" + String(repeating: "f", count: 64)
                        c.label += " (still valid: sent unauthenticated)"
                        failures.spoiled()
                    }
                    let answer = c.raw == nil ? connection.exchange(c.request) : RawConnection(port: port).exchange(c.request)
                    failures.check(i, c, answer)
                    i += workers
                }
            }
            thread.start()
        }
        while group.wait(timeout: .now()) == .timedOut { try await Task.sleep(nanoseconds: 50_000_000) }
        let elapsed = Date().timeIntervalSince(started)
        neighbour.stop()

        let report = failures.summary()
        print("hub fuzz: \(report.count) cases in \(String(format: "%.1f", elapsed)) s, \(report.spoiled) spoiled batches sent "
            + "unauthenticated; statuses \(report.statuses); neighbour: \(neighbour.pulls) pulls, \(neighbour.syncs) syncs, "
            + "\(neighbour.problems.count) problems")
        #expect(report.count == total, "only \(report.count) of \(total) cases ran within the time limit")
        #expect(report.failures.isEmpty, "\(report.failures.count) cases failed, e.g.:\n\(report.failures.prefix(12).joined(separator: "\n"))")
        #expect(ChildProcess.exit(of: hub.process) == nil, "the hub died: \(hub.logText.suffix(2_000))")
        #expect(try await RawHTTP.send("GET", hub.url + "/v1/health").status == 200)
        #expect(neighbour.problems.isEmpty, "the well-behaved client was not served: \(neighbour.problems.prefix(5))")
        #expect(neighbour.pulls >= 10 && neighbour.syncs >= 1)
        let after = try await Self.snapshot(hub, tokens)
        #expect(after == before, "the hub's state changed during the fuzz run")
        let sync = try cli.run("sync", "--replica", anna)
        #expect(sync.status == 0, "\(sync.stderr)")
    }
}

/// The fuzz run's findings, shared by the worker threads.
final class Failures: @unchecked Sendable {
    // @unchecked: every member is read and written under `lock`.
    private let lock = NSLock()
    private var list: [String] = []
    private var count = 0
    private var spoiledCount = 0
    private var statuses: [Int: Int] = [:]

    func spoiled() { lock.withLock { spoiledCount += 1 } }

    func check(_ index: Int, _ c: FuzzCase, _ answer: LoopbackSocket.Message?) {
        var problem: String?
        if let answer, let status = answer.status {
            let body = answer.body
            let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            if !(400..<500).contains(status) {
                problem = "status \(status)"
            } else if c.raw == nil, json?["error"] as? String == nil || (json?["message"] as? String)?.isEmpty != false {
                problem = "status \(status) without a JSON error"
            }
            if let problem {
                let text = String(decoding: body.prefix(200), as: UTF8.self)
                lock.withLock { list.append("case \(index) [\(c.label)]: \(problem): \(text)") }
            }
            lock.withLock {
                count += 1
                statuses[status, default: 0] += 1
            }
        } else {
            lock.withLock {
                count += 1
                statuses[0, default: 0] += 1
                list.append("case \(index) [\(c.label)]: no answer")
            }
        }
    }

    func summary() -> (count: Int, spoiled: Int, failures: [String], statuses: String) {
        lock.withLock {
            (count, spoiledCount, list.sorted(), statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))
        }
    }
}

/// A well-behaved client during the fuzz run: valid pulls and checksums on its own connection,
/// and every two seconds a real `kmk-sync sync` of a replica that has nothing to push.
final class Neighbour: @unchecked Sendable {
    // @unchecked: the counters are touched under `lock`; `cli` and the rest are read-only.
    private let lock = NSLock()
    private let port: UInt16
    private let token: String
    private let checksum: String
    private let cli: CLI
    private let replica: String
    private var running = true
    private var pullCount = 0
    private var syncCount = 0
    private var problemList: [String] = []
    private let done = DispatchGroup()

    init(port: UInt16, token: String, checksum: String, cli: CLI, replica: String) {
        self.port = port
        self.token = token
        self.checksum = checksum
        self.cli = cli
        self.replica = replica
    }

    var pulls: Int { lock.withLock { pullCount } }
    var syncs: Int { lock.withLock { syncCount } }
    var problems: [String] { lock.withLock { problemList } }
    private var isRunning: Bool { lock.withLock { running } }

    func start() {
        done.enter()
        Thread { [self] in
            defer { done.leave() }
            let connection = RawConnection(port: port)
            while isRunning {
                for target in ["/v1/changes?schema=1", "/v1/checksum?schema=1&municipality=0484"] {
                    let c = FuzzCase("neighbour", "GET", target, token: token)
                    let answer = connection.exchange(c.request)
                    let body = String(decoding: answer?.body ?? [], as: UTF8.self)
                    if answer?.status != 200 || (target.contains("checksum") && body != checksum) {
                        lock.withLock { problemList.append("\(target): \(answer?.status ?? 0) \(body.prefix(120))") }
                    }
                }
                lock.withLock { pullCount += 1 }
                usleep(40_000)
            }
        }.start()
        done.enter()
        Thread { [self] in
            defer { done.leave() }
            while isRunning {
                if let r = try? cli.run("sync", "--replica", replica, "--quiet") {
                    lock.withLock {
                        if r.status == 0 { syncCount += 1 } else { problemList.append("sync exited \(r.status): \(r.stderr)") }
                    }
                }
                for _ in 0..<20 where isRunning { usleep(100_000) }
            }
        }.start()
    }

    func stop() {
        lock.withLock { running = false }
        _ = done.wait(timeout: .now() + 90)
    }
}
