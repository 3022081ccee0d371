extension FieldSpec {
    /// The length of `text` as every text limit counts it: in Unicode scalar values (code
    /// points), the unit SQLite's `length()` counts in a replica's CHECK constraints (SPEC.md §1,
    /// "Values"). Not in characters as a reader sees them (grapheme clusters): `é` written as
    /// `e` and a combining accent is two, a family emoji joined with ZWJ is seven.
    public static func textLength(_ text: String) -> Int {
        measure(text).codePoints
    }

    /// The code points of `text` and whether one of them is U+0000, in one pass over its UTF-8
    /// bytes with no allocation (imports check every value): each byte that does not continue a
    /// sequence starts a code point.
    static func measure(_ text: String) -> (codePoints: Int, hasNUL: Bool) {
        func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> (Int, Bool) {
            var continuations = 0
            var nul = false
            for b in bytes {
                continuations &+= b & 0xC0 == 0x80 ? 1 : 0
                nul = nul || b == 0
            }
            return (bytes.count - continuations, nul)
        }
        if let result = text.utf8.withContiguousStorageIfAvailable(scan) { return result }
        return (text.unicodeScalars.count, text.utf8.contains(0))
    }

    /// The text rule, one for the hub, the replica, import, bundles and the command line: at
    /// most `max` code points, and no U+0000 (NUL), which SQLite's `length()` stops at and which
    /// C strings, the `sqlite3` shell and most tools cut the text at. The replica's generated
    /// CHECK states the same rule in SQL (`ReplicaDDL.check`).
    func checkText(_ text: String, max: Int) throws(ModelError) {
        let (length, nul) = Self.measure(text)
        if nul {
            let at = text.unicodeScalars.prefix { $0 != "\u{0}" }.count + 1
            throw ModelError(.invalidValue, "field '\(name)' has a NUL character (U+0000) at character \(at), "
                + "which no replica can store; remove it (\(kind.allowed))")
        }
        guard length <= max else {
            throw ModelError(.invalidValue, "field '\(name)' is \(length) characters long; at most \(max) are allowed "
                + "(characters are counted as Unicode code points: an accent written as a separate mark, or an emoji "
                + "made of several, counts as more than one); shorten it")
        }
    }

    /// A required field is never NULL: a record is made with it, and no change clears it. (A
    /// later "erased" state, SPEC.md §1, will be a marker of its own, neither NULL nor a value.)
    func refuseNull() throws(ModelError) {
        guard required else { return }
        throw ModelError(.missingField, "field '\(name)' is required: it cannot be left out or cleared; give it a value "
            + "(\(kind.allowed))")
    }
}
