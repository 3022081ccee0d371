import KMKModel

/// Reads a push body or a pull page straight from its bytes into ``Change`` values, without a
/// ``JSONValue`` tree per change: the hot path of both directions of the protocol.
///
/// It reads the form our encoders write, and any other member order or spacing: every member
/// known and present once, scalar values, every change passing the checks of
/// ``Change/init(json:schema:)``. For anything else it gives up (``Unread``): a syntax error,
/// an unknown or repeated member, a value of another type, an escape in a clock or an id, a
/// change the checks refuse. The caller then reads the same bytes with ``JSONValue/parse(_:)``
/// and the tree decoders, which give the precise error (or accept what this reader left to
/// them, such as an extra member). So when this reader returns a result, it is exactly what the
/// tree decoders return for the same bytes; `WireReaderTests` checks this on random and
/// malformed input.
///
/// Strings, numbers and literals are read by the tree's own ``JSONParser``, so escapes, UTF-8
/// checks and number syntax are the same code.
struct WireReader {
    /// The reader gave up; read the bytes with the tree decoders instead.
    struct Unread: Error {}

    private var p: JSONParser
    private let schema: Schema
    /// The last record id and origin read, raw and as returned: the changes of one record
    /// follow each other, so their id (and the batch's origin) are made into strings once.
    private var lastID: (raw: ArraySlice<UInt8>, text: String) = ([], "")
    private var lastOrigin: (raw: ArraySlice<UInt8>, text: String) = ([], "")

    init(bytes: [UInt8], schema: Schema) {
        p = JSONParser(bytes: bytes)
        self.schema = schema
    }

    /// A push body: `{"replica":…,"batch":…,"schema":…,"changes":[…]}` with the checks of
    /// ``PushBatch/envelope(_:)`` and ``PushBatch/decodeChanges(_:schema:)``.
    mutating func pushBatch() throws(Unread) -> PushBatch {
        var replica: String?
        var batch: String?
        var version: String?
        var changes: [Change]?
        var members = try object()
        while let key = try nextKey(&members) {
            switch key {
            case "replica" where replica == nil: replica = try string()
            case "batch" where batch == nil: batch = try number()
            case "schema" where version == nil: version = try number()
            case "changes" where changes == nil: changes = try changeArray()
            default: throw Unread()
            }
        }
        try end()
        guard let replica, replica.count == 36, RecordID.isValid(replica), let batch, let number = Int64(batch), number >= 1,
              let version, let schemaVersion = Int(version), let changes else { throw Unread() }
        return PushBatch(replica: replica.lowercased(), batch: number, schema: schemaVersion, changes: changes)
    }

    /// A pull page: `{"hub":…,"schema":…,"cursor":…,"more":…,"changes":[…]}` with the checks of
    /// ``PullPage/init(json:schema:)``.
    mutating func pullPage() throws(Unread) -> PullPage {
        var hub: String?
        var version: String?
        var cursor: String?
        var more: Bool?
        var changes: [Change]?
        var members = try object()
        while let key = try nextKey(&members) {
            switch key {
            case "hub" where hub == nil: hub = try string()
            case "schema" where version == nil: version = try number()
            case "cursor" where cursor == nil: cursor = try string()
            case "more" where more == nil: more = try bool()
            case "changes" where changes == nil: changes = try changeArray()
            default: throw Unread()
            }
        }
        try end()
        guard let hub, let version, let schemaVersion = Int(version), let cursor, let more, let changes else { throw Unread() }
        return PullPage(hub: hub, schema: schemaVersion, changes: changes, cursor: cursor, more: more)
    }

    /// The cursor and `more` of a pull page whose members before `changes` are only `hub`,
    /// `schema`, `cursor` and `more`, with `cursor` and `more` among them (as this hub writes a
    /// page): read without its changes, and without checking the rest of the page.
    mutating func pullHead() throws(Unread) -> (cursor: String, more: Bool) {
        var cursor: String?
        var more: Bool?
        var seen: Set<String> = []
        var members = try object()
        while let key = try nextKey(&members), key != "changes" {
            guard seen.insert(key).inserted else { throw Unread() }
            switch key {
            case "hub": _ = try string()
            case "schema": _ = try number()
            case "cursor": cursor = try string()
            case "more": more = try bool()
            default: throw Unread()
            }
        }
        guard let cursor, let more else { throw Unread() }
        return (cursor, more)
    }

    // MARK: - Changes

    private mutating func changeArray() throws(Unread) -> [Change] {
        try expect(UInt8(ascii: "["))
        var out: [Change] = []
        // About 200 bytes per change; a guess that saves most regrowth.
        out.reserveCapacity(min(10_000, (p.bytes.count - p.i) / 200))
        p.skipSpace()
        if peek == UInt8(ascii: "]") {
            p.i += 1
            return out
        }
        while true {
            p.skipSpace()
            out.append(try change())
            p.skipSpace()
            switch peek {
            case UInt8(ascii: ","): p.i += 1
            case UInt8(ascii: "]"): p.i += 1; return out
            default: throw Unread()
            }
        }
    }

    /// One change, with the checks of ``Change/init(json:schema:)``.
    private mutating func change() throws(Unread) -> Change {
        var entityName: String?
        var id: String?
        var field: String?
        var value: JSONValue?
        var clock: HLC?
        var origin: String?
        var base: HLC??
        var municipality: String??
        var members = try object()
        while let key = try nextKey(&members) {
            switch key {
            case "entity" where entityName == nil: entityName = try string()
            case "id" where id == nil: id = try cachedString(origin: false)
            case "field" where field == nil: field = try string()
            case "value" where value == nil: value = try scalar()
            case "clock" where clock == nil: clock = try hlc()
            case "origin" where origin == nil: origin = try cachedString(origin: true)
            case "base" where base == nil: base = try null() ? .some(nil) : hlc()
            case "municipality" where municipality == nil: municipality = try null() ? .some(nil) : string()
            default: throw Unread()
            }
        }
        guard let entityName, let spec = schema.entity(entityName), let id, RecordID.isValid(id), let field, let clock,
              let origin, RecordID.isValid(origin), origin.utf8.count == 36 else { throw Unread() }
        let muni = municipality ?? nil
        switch spec.scope {
        case .municipal: guard let muni, Municipality.byCode[muni] != nil else { throw Unread() }
        case .national: guard muni == nil else { throw Unread() }
        }
        let checked: Value
        if field == Change.lifecycleField {
            guard case .number(let n)? = value, let cl = Int64(n), cl >= 1 else { throw Unread() }
            checked = .integer(cl)
        } else {
            guard let f = spec.field(field), !f.localOnly else { throw Unread() }
            do { checked = try f.check(f.value(fromJSON: value ?? .null)) } catch { throw Unread() }
        }
        return Change(entity: spec.name, id: Change.lowercased(id), field: field, value: checked, clock: clock,
                      origin: Change.lowercased(origin), base: (base ?? nil) ?? .zero, municipality: muni)
    }

    // MARK: - JSON pieces

    private var peek: UInt8? { p.i < p.bytes.count ? p.bytes[p.i] : nil }

    private mutating func expect(_ byte: UInt8) throws(Unread) {
        p.skipSpace()
        guard peek == byte else { throw Unread() }
        p.i += 1
    }

    /// Where a reader is in an object: before its first member, or after one.
    private enum Members { case first, more }

    /// The start of an object.
    private mutating func object() throws(Unread) -> Members {
        try expect(UInt8(ascii: "{"))
        return .first
    }

    /// The next member's key, positioned at its value; nil at the end of the object.
    private mutating func nextKey(_ state: inout Members) throws(Unread) -> String? {
        p.skipSpace()
        switch (state, peek) {
        case (_, UInt8(ascii: "}")?):
            p.i += 1
            return nil
        case (.more, UInt8(ascii: ",")?):
            p.i += 1
            p.skipSpace()
        case (.first, _): break
        default: throw Unread()
        }
        state = .more
        let key = try string()
        try expect(UInt8(ascii: ":"))
        p.skipSpace()
        return key
    }

    /// Nothing but white space left.
    private mutating func end() throws(Unread) {
        p.skipSpace()
        guard p.i == p.bytes.count else { throw Unread() }
    }

    private mutating func string() throws(Unread) -> String {
        guard peek == UInt8(ascii: "\"") else { throw Unread() }
        do { return try p.string() } catch { throw Unread() }
    }

    private mutating func number() throws(Unread) -> String {
        guard let b = peek, b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else { throw Unread() }
        do { return try p.number() } catch { throw Unread() }
    }

    private mutating func bool() throws(Unread) -> Bool {
        do {
            switch peek {
            case UInt8(ascii: "t"): try p.literal("true"); return true
            case UInt8(ascii: "f"): try p.literal("false"); return false
            default: throw Unread()
            }
        } catch { throw Unread() }
    }

    /// Reads `null` if it is next; false (nothing read) if something else is.
    private mutating func null() throws(Unread) -> Bool {
        guard peek == UInt8(ascii: "n") else { return false }
        do { try p.literal("null") } catch { throw Unread() }
        return true
    }

    /// A string, number, true, false or null as the tree holds it; an object or array gives up.
    private mutating func scalar() throws(Unread) -> JSONValue {
        switch peek {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try bool())
        case UInt8(ascii: "n"):
            do { try p.literal("null") } catch { throw Unread() }
            return .null
        default: return .number(try number())
        }
    }

    /// The raw bytes of a string without escapes or control characters, or nil (the string
    /// is then read by ``string()``).
    private mutating func plainString() throws(Unread) -> ArraySlice<UInt8>? {
        guard peek == UInt8(ascii: "\"") else { throw Unread() }
        let start = p.i + 1
        var j = start
        let bytes = p.bytes
        while j < bytes.count {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") {
                p.i = j + 1
                return bytes[start..<j]
            }
            if b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return nil }
            j += 1
        }
        return nil
    }

    /// An id or an origin: equal to the last one read, it is that same string (no new copy).
    private mutating func cachedString(origin: Bool) throws(Unread) -> String {
        let start = p.i
        guard let raw = try plainString() else {
            p.i = start
            return try string()
        }
        let last = origin ? lastOrigin : lastID
        if raw.elementsEqual(last.raw) { return last.text }
        let text = String(decoding: raw, as: UTF8.self)
        if origin { lastOrigin = (raw, text) } else { lastID = (raw, text) }
        return text
    }

    /// A clock: a string of exactly 16 hexadecimal digits (what ``HLC/init(hex:)`` reads).
    /// Anything else gives up, and the tree decoders decide.
    private mutating func hlc() throws(Unread) -> HLC {
        guard let raw = try plainString(), raw.count == 16 else { throw Unread() }
        var v: UInt64 = 0
        for b in raw {
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x61...0x66: d = b - 0x61 + 10
            case 0x41...0x46: d = b - 0x41 + 10
            default: throw Unread()
            }
            v = v << 4 | UInt64(d)
        }
        guard v <= HLC.max.rawValue else { throw Unread() }
        return HLC(rawValue: v)
    }
}
