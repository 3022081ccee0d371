import Foundation
import KMKModel
import KMKSync
import KMKTestSupport
import Testing

/// The byte readers of push bodies and pull pages (`PushBatch(body:)`, `PullPage(body:)`) against
/// the JSON tree decoders they stand in for: whenever a byte reader returns something, it is what
/// the tree returns; whatever the tree refuses, the byte reader leaves to it (nil).
@Suite("Wire byte readers")
struct WireReaderTests {
    static let replica = "11111111-2222-4333-8444-555555555555"
    static let id = "00000000-0000-4000-8000-000000000001"

    /// The tree's reading of a push body: the batch, or nil when it refuses it.
    static func tree(push text: String) -> PushBatch? {
        guard let json = try? JSONValue.parse(text), let env = try? PushBatch.envelope(json),
              let changes = try? PushBatch.decodeChanges(env.changes) else { return nil }
        return PushBatch(replica: env.replica, batch: env.batch, schema: env.schema, changes: changes)
    }

    static func tree(page text: String) -> PullPage? {
        guard let json = try? JSONValue.parse(text) else { return nil }
        return try? PullPage(json: json)
    }

    /// The byte reader agrees with the tree: same result, or it leaves the body to the tree.
    static func agree(push text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let fast = PushBatch(body: Array(text.utf8))
        let slow = tree(push: text)
        if let fast { #expect(fast == slow, "\(text.prefix(300))", sourceLocation: sourceLocation) }
    }

    static func change(_ members: String) -> String {
        "{\"replica\":\"\(replica)\",\"batch\":1,\"schema\":1,\"changes\":[\(members)]}"
    }

    static let venueName = "{\"entity\":\"venue\",\"id\":\"\(id)\",\"field\":\"name\",\"value\":\"Krogen\","
        + "\"clock\":\"0000010000000000\",\"origin\":\"\(replica)\",\"base\":\"0000000000000000\",\"municipality\":\"0484\"}"

    @Test("our own encoding is read straight from the bytes, equal to the tree's reading")
    func common() throws {
        let c = Change(entity: "venue", id: Self.id, field: "name", value: .text("Krogen Åkerö \"the\" \\ \n\t\u{01} 🦉"),
                       clock: HLC(millis: 1_000, counter: 1), origin: Self.replica, municipality: "0484")
        let batch = PushBatch(replica: Self.replica, batch: 3, schema: 1, changes: [c, c])
        let body = batch.json()
        #expect(PushBatch(body: Array(body.utf8)) == batch)
        #expect(Self.tree(push: body) == batch)
        let page = PullPage(hub: "h", schema: 1, changes: [c], cursor: "c1.h.5.ab", more: true)
        #expect(PullPage(body: Array(page.json().utf8)) == page)
        let empty = PullPage(hub: "h", schema: 1, changes: [], cursor: "c1.h.0.0", more: false)
        #expect(PullPage(body: Array(empty.json().utf8)) == empty)
    }

    @Test("another member order, spacing, escapes and capital letters read the same as the tree")
    func otherForms() throws {
        let shuffled = "{ \"municipality\" : \"0484\" ,\n\t\"origin\":\"\(Self.replica.uppercased())\",\"clock\":\"00000100000000AB\","
            + "\"value\":\"\\u00c5\\ud83e\\udd89\\/\\\"\",\"field\":\"name\",\"id\":\"\(Self.id)\",\"entity\":\"venue\"}"
        let body = " {\"changes\":[ \(shuffled) ] , \"schema\":1,\"batch\":7,\"replica\":\"\(Self.replica.uppercased())\"} \n"
        let fast = try #require(PushBatch(body: Array(body.utf8)))
        #expect(fast == Self.tree(push: body))
        #expect(fast.replica == Self.replica && fast.batch == 7)
        #expect(fast.changes[0].value == .text("Å🦉/\"") && fast.changes[0].origin == Self.replica)
        #expect(fast.changes[0].clock == HLC(rawValue: 0x0000_0100_0000_00AB) && fast.changes[0].base == .zero)
        // null base, null municipality of national data, a lifecycle change
        let national = "{\"entity\":\"criterion\",\"id\":\"\(Self.id)\",\"field\":\"$cl\",\"value\":3,"
            + "\"clock\":\"0000010000000000\",\"origin\":\"\(Self.replica)\",\"base\":null,\"municipality\":null}"
        let read = try #require(PushBatch(body: Array(Self.change(national).utf8)))
        #expect(read == Self.tree(push: Self.change(national)) && read.changes[0].value == .integer(3))
    }

    @Test("what the byte reader does not read is left to the tree, which decides", arguments: [
        // syntax
        "", " ", "{", "[]", "null", "{\"replica\":", change(venueName) + "x", change(venueName) + "{}",
        change(venueName).replacingOccurrences(of: "]}", with: "]"), change(venueName + ","), change("," + venueName),
        change(venueName).replacingOccurrences(of: ":1,", with: ":01,"),
        change(venueName).replacingOccurrences(of: "\"batch\":1", with: "\"batch\":1.0"),
        change(venueName).replacingOccurrences(of: "\"batch\":1", with: "\"batch\":-1"),
        change(venueName).replacingOccurrences(of: "\"batch\":1", with: "\"batch\":\"1\""),
        change(venueName).replacingOccurrences(of: "\"schema\":1", with: "\"schema\":1e0"),
        change(venueName).replacingOccurrences(of: "\"schema\":1,", with: ""),
        change(venueName).replacingOccurrences(of: "Krogen", with: "Kro\\gen"),
        change(venueName).replacingOccurrences(of: "Krogen", with: "Kro\\ud800gen"),
        change(venueName).replacingOccurrences(of: "Krogen", with: "Kro\u{01}gen"),
        change(venueName).replacingOccurrences(of: "Krogen", with: "Kro\\u00"),
        // members: unknown, repeated, missing, of another type
        change(venueName).replacingOccurrences(of: "{\"replica\"", with: "{\"extra\":[1,{}],\"replica\""),
        change(venueName).replacingOccurrences(of: "{\"replica\"", with: "{\"batch\":2,\"replica\""),
        change(venueName.replacingOccurrences(of: "{\"entity\"", with: "{\"extra\":{\"a\":[]},\"entity\"")),
        change(venueName.replacingOccurrences(of: "{\"entity\"", with: "{\"field\":\"city\",\"entity\"")),
        change(venueName.replacingOccurrences(of: ",\"base\":\"0000000000000000\"", with: "")),
        change(venueName.replacingOccurrences(of: ",\"municipality\":\"0484\"", with: "")),
        change(venueName.replacingOccurrences(of: ",\"value\":\"Krogen\"", with: "")),
        change(venueName.replacingOccurrences(of: "\"Krogen\"", with: "[\"Krogen\"]")),
        change(venueName.replacingOccurrences(of: "\"Krogen\"", with: "12")),
        change(venueName.replacingOccurrences(of: "\"0484\"", with: "484")),
        change(venueName.replacingOccurrences(of: "\"0484\"", with: "\"9999\"")),
        change(venueName.replacingOccurrences(of: "\"0484\"", with: "null")),
        change(venueName.replacingOccurrences(of: "\"base\":\"0000000000000000\"", with: "\"base\":null")),
        change(venueName.replacingOccurrences(of: "\"base\":\"0000000000000000\"", with: "\"base\":\"+000000000000001\"")),
        change(venueName.replacingOccurrences(of: "\"clock\":\"0000010000000000\"", with: "\"clock\":\"+000010000000000\"")),
        change(venueName.replacingOccurrences(of: "\"clock\":\"0000010000000000\"", with: "\"clock\":\"\\u0030000010000000000\"")),
        change(venueName.replacingOccurrences(of: "\"clock\":\"0000010000000000\"", with: "\"clock\":\"000001000000000g\"")),
        change(venueName.replacingOccurrences(of: "\"clock\":\"0000010000000000\"", with: "\"clock\":\"00000100000000\"")),
        change(venueName.replacingOccurrences(of: "\"id\":\"\(id)\"", with: "\"id\":\"\\u0030\(id.dropFirst())\"")),
        change(venueName.replacingOccurrences(of: "\"id\":\"\(id)\"", with: "\"id\":\"x\(id.dropFirst())\"")),
        change(venueName.replacingOccurrences(of: "\"origin\":\"\(replica)\"", with: "\"origin\":\"0484\"")),
        change(venueName.replacingOccurrences(of: "\"venue\"", with: "\"nope\"")),
        change(venueName.replacingOccurrences(of: "\"name\"", with: "\"nope\"")),
        change(venueName.replacingOccurrences(of: "\"name\"", with: "\"$cl\"")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"$cl\",\"value\":0")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"$cl\",\"value\":1.0")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"$cl\",\"value\":1e0")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"$cl\",\"value\":2")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"staff_count\",\"value\":5")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"staff_count\",\"value\":5.0")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"staff_count\",\"value\":-5")),
        change(venueName.replacingOccurrences(of: "\"name\",\"value\":\"Krogen\"", with: "\"staff_count\",\"value\":true")),
        change(venueName.replacingOccurrences(of: "\"venue\"", with: "\"criterion\"")),
        change("null"), change("1"), change("[]"), change("\"\""), change("{}"),
    ])
    func leftToTheTree(body: String) {
        Self.agree(push: body)
    }

    @Test("random changes round-trip through encode and the byte reader (property, seed printed)")
    func roundTrip() throws {
        let seed = SplitMix64.seed(from: "KMK_WIRE_SEED")
        print("WireReaderTests.roundTrip seed: \(seed) (replay with KMK_WIRE_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        for round in 0..<200 {
            let changes = (0..<Int.random(in: 0...30, using: &rng)).map { _ in Self.randomChange(&rng) }
            let batch = PushBatch(replica: Self.replica, batch: Int64(round + 1), schema: 1, changes: changes)
            let body = batch.json()
            #expect(PushBatch(body: Array(body.utf8)) == batch, "seed \(seed), round \(round)")
            #expect(Self.tree(push: body) == batch, "seed \(seed), round \(round)")
            let page = PullPage(hub: "h", schema: 1, changes: changes, cursor: "c1.h.\(round).ab", more: round % 2 == 0)
            #expect(PullPage(body: Array(page.json().utf8)) == page, "seed \(seed), round \(round)")
            let head = PullPage.head(body: Array(page.json().utf8))
            #expect(head?.cursor == page.cursor && head?.more == page.more, "seed \(seed), round \(round)")
        }
    }

    @Test("a page's head is read before its changes only when cursor and more come first, each once")
    func pageHead() {
        let c = #"{"entity":"venue","id":"3f1c2a4e-9b7d-4c1e-8f00-1a2b3c4d5e6f","field":"name","value":"K","clock":"01a205a86ba50000","origin":"e2669a3d-0000-4000-8000-000000000001","base":"0000000000000000","municipality":"0484"}"#
        let head = PullPage.head(body: Array(#"{"hub":"h","schema":1,"cursor":"c1.h.9.ab","more":true,"changes":["# .utf8) + Array(c.utf8) + Array("]}".utf8))
        #expect(head?.cursor == "c1.h.9.ab" && head?.more == true)
        // Other orders and forms: nil, and the client waits for the decoded page.
        for body in [
            #"{"hub":"h","schema":1,"more":true,"changes":[],"cursor":"c1.h.9.ab"}"#,
            #"{"hub":"h","cursor":"a","cursor":"b","more":true,"changes":[]}"#,
            #"{"hub":"h","cursor":"a","extra":1,"more":true,"changes":[]}"#,
            #"{"cursor":"a","more":"yes","changes":[]}"#,
            #"["cursor","a"]"#,
        ] {
            #expect(PullPage.head(body: Array(body.utf8)) == nil, "\(body)")
        }
    }

    @Test("damaged bodies: the byte reader returns the tree's result or leaves the body to it (property, seed printed)")
    func damaged() throws {
        let seed = SplitMix64.seed(from: "KMK_WIRE_SEED")
        print("WireReaderTests.damaged seed: \(seed) (replay with KMK_WIRE_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        let pieces: [[UInt8]] = ["\"", "\\", ",", ":", "{", "}", "[", "]", "null", "1", "-", ".", "e", "\\u00e5", " ", "\n", "x",
                                 "\u{01}", "å", "A", "0"].map { Array($0.utf8) }
        for round in 0..<400 {
            let changes = (0..<Int.random(in: 1...4, using: &rng)).map { _ in Self.randomChange(&rng) }
            var push = Array(PushBatch(replica: Self.replica, batch: 1, schema: 1, changes: changes).json().utf8)
            var pull = Array(PullPage(hub: "h", schema: 1, changes: changes, cursor: "c", more: false).json().utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                for k in 0..<2 {
                    var bytes = k == 0 ? push : pull
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes.remove(at: at)
                    case 1: bytes.insert(contentsOf: pieces.randomElement(using: &rng)!, at: at)
                    default: bytes[at] = pieces.randomElement(using: &rng)![0]
                    }
                    if k == 0 { push = bytes } else { pull = bytes }
                }
            }
            if let fast = PushBatch(body: push) {
                #expect(fast == Self.tree(push: String(decoding: push, as: UTF8.self)), "seed \(seed), round \(round)")
            }
            if let fast = PullPage(body: pull) {
                #expect(fast == Self.tree(page: String(decoding: pull, as: UTF8.self)), "seed \(seed), round \(round)")
            }
            if let head = PullPage.head(body: pull), let tree = Self.tree(page: String(decoding: pull, as: UTF8.self)) {
                #expect(head.cursor == tree.cursor && head.more == tree.more, "seed \(seed), round \(round)")
            }
        }
    }

    @Test("invalid UTF-8 is never read by the byte reader")
    func invalidUTF8() {
        var bytes = Array(Self.change(Self.venueName).utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "K"))!
        for bad: [UInt8] in [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xC0, 0xAF]] {
            var copy = bytes
            copy.replaceSubrange(at..<at + 1, with: bad)
            #expect(PushBatch(body: copy) == nil)
        }
        bytes[0] = 0xEF
        #expect(PushBatch(body: bytes) == nil)
    }

    // MARK: - Random changes

    static let entities = Schema.current.entities

    static func randomChange(_ rng: inout SplitMix64) -> Change {
        let e = entities.randomElement(using: &rng)!
        let synced = e.syncedFields
        let lifecycle = synced.isEmpty || Int.random(in: 0..<5, using: &rng) == 0
        let field = lifecycle ? Change.lifecycleField : synced.randomElement(using: &rng)!.name
        let value: Value = lifecycle ? .integer(Int64.random(in: 1...1_000_000_000_000, using: &rng))
            : randomValue(e.field(field)!, &rng)
        let id = e.identity == .municipalityCode ? "0484" : RecordID.make(using: &rng)
        return Change(entity: e.name, id: id, field: field, value: value, clock: HLC(rawValue: rng.next() & HLC.max.rawValue),
                      origin: Bool.random(using: &rng) ? replica : RecordID.make(using: &rng),
                      base: Bool.random(using: &rng) ? .zero : HLC(rawValue: rng.next() & HLC.max.rawValue),
                      municipality: e.scope == .municipal ? Municipality.all.randomElement(using: &rng)!.code : nil)
    }

    static let characters: [String] = ["a", "Z", "0", " ", "å", "Ä", "ö", "é", "🦉", "\"", "\\", "/", "\n", "\t", "\r",
                                       "\u{01}", "\u{1F}", "\u{7F}", "\u{2028}", "{", "}", "[", "]", ",", ":", "中"]

    static func randomValue(_ f: FieldSpec, _ rng: inout SplitMix64) -> Value {
        // A required field is never NULL (SPEC.md §1): a change that clears one is invalid.
        if !f.required, Int.random(in: 0..<8, using: &rng) == 0 { return .null }
        let v: Value
        switch f.kind {
        case .text(let max):
            v = .text((0..<Int.random(in: 0...min(max, 40), using: &rng)).map { _ in characters.randomElement(using: &rng)! }
                .joined())
        case .integer(let min, let max): v = .integer(Int64.random(in: min...max, using: &rng))
        case .real:
            let d = Double(bitPattern: rng.next())
            v = .real(d.isFinite ? d : Double(Int.random(in: -1_000...1_000, using: &rng)) / 8)
        case .bool: v = .integer(Int64.random(in: 0...1, using: &rng))
        case .date: v = .text(ISODate(unixMillis: Int64.random(in: 0...4_000_000_000_000, using: &rng)).description)
        case .choice(let words): v = .text(words.randomElement(using: &rng)!)
        case .set(let words): v = .text(words.filter { _ in Bool.random(using: &rng) }.sorted().joined(separator: ","))
        case .reference: v = .text(RecordID.make(using: &rng))
        case .period: v = .text(["2026", "2025-07", "2024-Q3"].randomElement(using: &rng)!)
        case .orgNumber: v = .text("556036-0793")
        }
        return (try? f.check(v)) ?? .null
    }
}
