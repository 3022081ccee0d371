import KMKModel

/// The checksum of a set of registers, the same on a replica and on the hub when both hold the
/// same state: SHA-256 (hex) of the change lines (``Change/json(schema:)``) sorted by their UTF-8
/// bytes, each followed by a newline.
public enum ChangeSetChecksum {
    public static func hex(_ changes: [Change], schema: Schema = .current) -> String {
        let lines = changes.map { $0.json(schema: schema) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var text = ""
        text.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + 1 })
        for line in lines {
            text += line
            text += "\n"
        }
        return SHA256.hex(text)
    }
}
