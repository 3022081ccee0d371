import CSQLite
import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Issue 24 §2, "one validation rule, everywhere": a text value ``FieldSpec/check(_:)`` accepts
/// is exactly one a replica's own SQL CHECK accepts, and the wire decoders (the hub's push path,
/// a pull, a bundle) accept exactly the same.
///
/// Random Unicode text (combining marks, ZWJ emoji sequences, flags, RTL overrides, NUL, astral
/// characters, CR LF, Hangul jamo) of lengths at and just over every text limit of every text
/// field is checked three ways: by the Swift rule, by a raw SQLite UPDATE of a real replica file
/// (its generated CHECK, no kmk-sync code in between), and by a push body through both wire
/// decoders; and every value the rule accepts also fits the CHECK of files made before it.
/// `KMK_TEXT_SEED` replays a printed seed; `KMK_TEXT_CASES` sets the number of cases.
@Suite("One text rule: FieldSpec, the replica's SQL CHECK and the wire agree")
struct TextRulePropertyTests {
    static let seed = SplitMix64.seed(from: "KMK_TEXT_SEED")
    static let cases = Int(ProcessInfo.processInfo.environment["KMK_TEXT_CASES"] ?? "") ?? 1000

    /// Every text field of every entity, local-only ones too (their columns have CHECKs as well).
    static let textFields: [(entity: EntitySpec, field: FieldSpec, max: Int)] = Schema.current.entities.flatMap { e in
        e.fields.compactMap { f in
            if case .text(let max) = f.kind { return (e, f, max) }
            return nil
        }
    }

    /// The pieces generated text is made of. Each is one or more Unicode scalars; many are one
    /// grapheme cluster of several scalars, where counting characters and code points differ.
    static let atoms: [[Unicode.Scalar]] = [
        ["a"], ["Z"], [" "], ["-"], ["7"],
        ["\u{E5}"],  // å, precomposed
        ["e", "\u{301}"],  // é, decomposed: one grapheme, two scalars
        ["a", "\u{308}", "\u{323}", "\u{30A}"],  // stacked combining marks
        ["\u{1F469}", "\u{200D}", "\u{1F469}", "\u{200D}", "\u{1F467}", "\u{200D}", "\u{1F466}"],  // ZWJ family
        ["\u{1F3F3}", "\u{FE0F}", "\u{200D}", "\u{1F308}"],  // rainbow flag (ZWJ + variation selector)
        ["\u{1F1F8}", "\u{1F1EA}"],  // regional indicators: the Swedish flag
        ["\u{1F44D}", "\u{1F3FD}"],  // skin tone modifier
        ["\u{202E}"], ["\u{202D}"], ["\u{2067}"], ["\u{200F}"],  // RTL override, LTR override, RLI, RLM
        ["\u{0}"],  // NUL: SQLite's length() stops at it
        ["\u{1F600}"], ["\u{10FFFF}"], ["\u{1D11E}"],  // astral
        ["\u{FEFF}"], ["\u{FFFD}"], ["\u{FFFF}"], ["\u{E000}"],  // BOM, replacement, noncharacter, private use
        ["\u{4E2D}"],  // CJK
        ["\u{1100}", "\u{1161}", "\u{11A8}"],  // Hangul L V T: one grapheme, three scalars
        ["\r", "\n"], ["\t"], ["\u{1}"], ["\u{7F}"], ["\u{85}"],
        ["\"", "\\"],  // JSON escapes
    ]

    static let nul = atoms.firstIndex(of: ["\u{0}"])!  // left out of the NUL-free mode
    static let combining: [Unicode.Scalar] = (0x300...0x36F).map { Unicode.Scalar($0)! }

    /// A random string of exactly `length` scalars, in one of a few styles.
    static func text(length: Int, _ g: inout SplitMix64) -> String {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(length + 8)
        let style = Int.random(in: 0..<5, using: &g)
        let allowNUL = Int.random(in: 0..<4, using: &g) == 0
        while scalars.count < length {
            switch style {
            case 0:  // ASCII only
                scalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &g)))
            case 1:  // a letter with a pile of combining marks: few graphemes, many scalars
                scalars.append("o")
                for _ in 0..<Int.random(in: 1...12, using: &g) { scalars.append(combining.randomElement(using: &g)!) }
            case 2:  // emoji sequences
                scalars += atoms[Int.random(in: 8...11, using: &g)]
            default:  // anything
                var i = Int.random(in: 0..<atoms.count, using: &g)
                if i == nul, !allowNUL { i = 0 }
                scalars += atoms[i]
            }
        }
        scalars.removeLast(scalars.count - length)  // may split a sequence: still valid scalars
        if allowNUL, !scalars.isEmpty, Int.random(in: 0..<2, using: &g) == 0 {
            scalars[Int.random(in: 0..<scalars.count, using: &g)] = "\u{0}"
        }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// A length near the field's limit, or anywhere below it.
    static func length(max: Int, _ g: inout SplitMix64) -> Int {
        switch Int.random(in: 0..<8, using: &g) {
        case 0: return max
        case 1: return max + 1
        case 2: return max - 1
        case 3: return max + Int.random(in: 2...(max / 2), using: &g)
        case 4: return Int.random(in: 0...20, using: &g)
        default: return Int.random(in: 0...(max + 2), using: &g)
        }
    }

    /// One replica file, reached with a raw SQLite connection: the replica's own tables and
    /// CHECKs, none of kmk-sync's code. Triggers are off (capture is not under test and calls
    /// kmk-sync's SQL functions); one transaction, rolled back at the end.
    final class RawReplica {
        var db: OpaquePointer?
        var updates: [String: OpaquePointer] = [:]
        let dir: TempDir

        init() throws {
            dir = try TempDir()
            let path = dir.path("raw.kmk")
            try Replica.create(at: path, municipality: Municipality.byCode["0484"]!).close()
            guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { throw RawError("open") }
            _ = kmk_sqlite_enable_triggers(db, 0)
            try exec("BEGIN")
            for e in Schema.current.entities {
                let id = e.name == "municipality" ? "0484" : "019b7a3c-5de2-76f3-b90c-676ccd62e74a"
                try exec("INSERT OR IGNORE INTO \(e.name) (id) VALUES ('\(id)')")
            }
            // The CHECK of files made before the rule (and of tables a layout migration rebuilds).
            let limits = Set(TextRulePropertyTests.textFields.map(\.max)).sorted()
            try exec("CREATE TEMP TABLE legacy (" + limits.map { "t\($0) TEXT CHECK (t\($0) IS NULL OR (length(t\($0)) <= \($0)))" }
                .joined(separator: ", ") + ") STRICT")
            try exec("INSERT INTO legacy DEFAULT VALUES")
        }

        deinit {
            for st in updates.values { sqlite3_finalize(st) }
            _ = sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            sqlite3_close(db)
        }

        struct RawError: Error { let what: String; init(_ w: String) { what = w } }

        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                throw RawError("\(sql): \(String(cString: sqlite3_errmsg(db)))")
            }
        }

        /// Whether the column's CHECK takes `text`, bound with its full UTF-8 length (NULs too).
        func accepts(_ e: EntitySpec, _ f: FieldSpec, _ text: String) throws -> Bool {
            try update(e.name + "." + f.name, "UPDATE \(e.name) SET \(f.name) = ?1", text)
        }

        /// Whether the CHECK of a file made before the rule takes `text` in a field of this limit.
        func legacyAccepts(max: Int, _ text: String) throws -> Bool {
            try update("legacy.t\(max)", "UPDATE legacy SET t\(max) = ?1", text)
        }

        func update(_ key: String, _ sql: String, _ text: String) throws -> Bool {
            let st: OpaquePointer
            if let cached = updates[key] {
                st = cached
            } else {
                var p: OpaquePointer?
                guard sqlite3_prepare_v2(db, sql, -1, &p, nil) == SQLITE_OK, let p else {
                    throw RawError("prepare \(key): \(String(cString: sqlite3_errmsg(db)))")
                }
                updates[key] = p
                st = p
            }
            sqlite3_reset(st)
            let bytes = Array(text.utf8) + [0]  // the length excludes the terminator: NULs inside are kept
            bytes.withUnsafeBufferPointer { b in
                _ = b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) {
                    sqlite3_bind_text(st, 1, $0, Int32(b.count - 1), kmk_sqlite_transient())
                }
            }
            let rc = sqlite3_step(st)
            sqlite3_reset(st)
            switch rc {
            case SQLITE_DONE:
                guard sqlite3_changes(db) == 1 else { throw RawError("UPDATE \(key) wrote no row") }
                return true
            case SQLITE_CONSTRAINT: return false
            default: throw RawError("UPDATE \(key): \(rc) \(String(cString: sqlite3_errmsg(db)))")
            }
        }
    }

    /// A push body of one change, through both wire decoders: the byte reader (the hub's fast
    /// path, pulls) and the tree (the precise errors, bundles). Nil when both refuse; an issue
    /// is recorded when they disagree.
    static func decoded(_ body: [UInt8], _ label: String) -> Value? {
        let fast = PushBatch(body: body)?.changes.first?.value
        var tree: Value?
        do {
            let json = try JSONValue.parse(String(decoding: body, as: UTF8.self))
            tree = try PushBatch.decodeChanges(try PushBatch.envelope(json).changes).first?.value
        } catch {}
        #expect(fast == tree, "\(label): the byte reader gave \(String(describing: fast)), the tree \(String(describing: tree))")
        return tree
    }

    static func describe(_ s: String) -> String {
        let shown = s.unicodeScalars.prefix(12).map { String($0.value, radix: 16) }.joined(separator: " ")
        return "\(s.unicodeScalars.count) scalars, \(s.count) characters, \(s.utf8.count) bytes, "
            + "NUL \(s.utf8.contains(0) ? "yes" : "no"), starts \(shown)"
    }

    @Test("random Unicode text: the Swift check accepts exactly what the replica's SQL CHECK and the wire accept")
    func swiftSQLAndWireAgree() throws {
        print("text rule: seed \(Self.seed), \(Self.cases) cases, \(Self.textFields.count) text fields "
            + "(replay: KMK_TEXT_SEED=\(Self.seed))")
        var g = SplitMix64(seed: Self.seed)
        let raw = try RawReplica()
        var disagreements: [String] = []
        var tally = (accepted: 0, refused: 0, overLimit: 0, withNUL: 0, graphemesWithin: 0)
        for n in 0..<Self.cases {
            let (e, f, max) = Self.textFields[n % Self.textFields.count]
            let s = Self.text(length: Self.length(max: max, &g), &g)
            let swift = (try? f.check(.text(s))) != nil
            let sql = try raw.accepts(e, f, s)
            if swift { tally.accepted += 1 } else { tally.refused += 1 }
            if s.unicodeScalars.count > max {
                tally.overLimit += 1
                if s.count <= max { tally.graphemesWithin += 1 }
            }
            if s.utf8.contains(0) { tally.withNUL += 1 }
            // Files made before the rule keep their CHECK: it must take all the rule takes.
            if swift, try !raw.legacyAccepts(max: max, s) {
                disagreements.append("case \(n) \(e.name).\(f.name): an older file's CHECK refuses what Swift accepts: "
                    + Self.describe(s))
            }
            if swift != sql {
                disagreements.append("case \(n) \(e.name).\(f.name) (max \(max)): Swift \(swift ? "accepts" : "refuses"), "
                    + "SQL \(sql ? "accepts" : "refuses"): \(Self.describe(s))")
            }
            // The same value in a push body: both decoders take it exactly when the check does,
            // and give back the very same string.
            guard !f.localOnly else { continue }
            let change = Change(entity: e.name, id: e.name == "municipality" ? "0484" : "019b7a3c-5de2-76f3-b90c-676ccd62e74a",
                                field: f.name, value: .text(s), clock: HLC(millis: 1_700_000_000_000, counter: 0),
                                origin: "5b0e6f2c-8a51-4c7e-9a7e-3f1b2c4d5e6f",
                                municipality: e.scope == .municipal ? "0484" : nil)
            let body = PushBatch(replica: "5b0e6f2c-8a51-4c7e-9a7e-3f1b2c4d5e6f", batch: 1, schema: Schema.current.version,
                                 changes: [change]).body()
            let wire = Self.decoded(body, "case \(n)")
            if (wire != nil) != swift || (wire != nil && wire != .text(s)) {
                disagreements.append("case \(n) \(e.name).\(f.name): the wire \(wire == nil ? "refuses" : "accepts"), "
                    + "Swift \(swift ? "accepts" : "refuses"): \(Self.describe(s))")
            }
        }
        print("text rule: \(tally.accepted) accepted, \(tally.refused) refused, \(tally.overLimit) over their limit "
            + "(\(tally.graphemesWithin) of them within it in characters), \(tally.withNUL) with NUL; "
            + "\(disagreements.count) disagreements")
        let first = disagreements.prefix(5).joined(separator: "\n")
        #expect(disagreements.isEmpty, "seed \(Self.seed): \(disagreements.count) disagreements, first:\n\(first)")
    }

    /// The cases the issue names, written out: each must get the same answer from the Swift check
    /// and the SQL CHECK, and the answer is the one SPEC §1 states.
    @Test("named cases: at and over the limit in code points, NUL, combining marks, ZWJ, RTL override")
    func namedCases() throws {
        let raw = try RawReplica()
        let venue = EntitySpec.venue
        let name = venue.field("name")!
        let notes = venue.field("notes")!
        let family = "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"  // 7 scalars, 1 character
        let cases: [(String, FieldSpec, String, Bool)] = [
            ("200 letters", name, String(repeating: "a", count: 200), true),
            ("201 letters", name, String(repeating: "a", count: 201), false),
            ("100 decomposed é: 200 code points", name, String(repeating: "e\u{301}", count: 100), true),
            ("101 decomposed é: 101 characters, 202 code points", name, String(repeating: "e\u{301}", count: 101), false),
            ("150 characters of 300 code points", name, String(repeating: "a\u{308}", count: 150), false),
            ("28 ZWJ families + 4 letters: 200 code points", name, String(repeating: family, count: 28) + "abcd", true),
            ("29 ZWJ families: 29 characters, 203 code points", name, String(repeating: family, count: 29), false),
            ("RTL override inside, 200 code points", name, "\u{202E}" + String(repeating: "b", count: 199), true),
            ("RTL override, 201 code points", name, "\u{202E}" + String(repeating: "b", count: 200), false),
            ("a NUL in a short name", name, "Kro\u{0}gen", false),
            ("a NUL, then more than the limit", name, "a\u{0}" + String(repeating: "b", count: 300), false),
            ("astral characters, 200 code points", name, String(repeating: "\u{1F600}", count: 200), true),
            ("astral characters, 201 code points", name, String(repeating: "\u{1F600}", count: 201), false),
            ("10000 code points of notes", notes, String(repeating: "o\u{301}", count: 5000), true),
            ("10001 code points of notes", notes, String(repeating: "o\u{301}", count: 5000) + "x", false),
        ]
        for (label, f, s, expected) in cases {
            let swift = (try? f.check(.text(s))) != nil
            let sql = try raw.accepts(venue, f, s)
            #expect(swift == expected, "\(label): the Swift check \(swift ? "accepts" : "refuses") it")
            #expect(sql == expected, "\(label): the replica's SQL CHECK \(sql ? "accepts" : "refuses") it")
        }
    }

    /// JSON can escape half of a UTF-16 pair (`\ud800`), which no Swift string, SQLite text or
    /// valid UTF-8 can hold: both decoders refuse it with an error that says so.
    @Test("escaped lone surrogates in a change are refused by both decoders, with a message that says why")
    func loneSurrogates() throws {
        var g = SplitMix64(seed: Self.seed)
        let escapes = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\uDC00\\uD800", "\\ud800\\u0041", "\\ud83d\\ud83d"]
        for escape in escapes {
            let name = String(repeating: "k", count: Int.random(in: 0...5, using: &g)) + escape + "rogen"
            let body = """
                {"replica":"5b0e6f2c-8a51-4c7e-9a7e-3f1b2c4d5e6f","batch":1,"schema":1,"changes":[{"entity":"venue",\
                "id":"019b7a3c-5de2-76f3-b90c-676ccd62e74a","field":"name","value":"\(name)","clock":"0000018bcfe56800",\
                "origin":"5b0e6f2c-8a51-4c7e-9a7e-3f1b2c4d5e6f","base":null,"municipality":"0484"}]}
                """
            #expect(PushBatch(body: Array(body.utf8)) == nil, "\(escape): the byte reader must refuse it")
            do {
                _ = try JSONValue.parse(body)
                Issue.record("\(escape): the JSON parser must refuse it")
            } catch {
                #expect(error.reason.contains("surrogate"), "\(escape): \(error.reason)")
            }
        }
        // A well-formed pair is one astral character, counted as one code point.
        let pair = "\"\\ud83d\\ude00\""
        #expect(try JSONValue.parse(pair) == .string("\u{1F600}"))
    }
}
