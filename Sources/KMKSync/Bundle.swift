import KMKModel

/// A bundle: changes carried on a USB stick between replicas of one municipality.
///
/// Text, UTF-8, one JSON object per line:
/// ```
/// {"format":"kmk-sync-bundle","version":1,"schema":1,"municipality":"0484","from":REPLICA,"for":REPLICA|null,
///  "created":"16 hex","count":N,"vector":{ORIGIN:"16 hex",…}}     (header, one line)
/// {change}                                                        (N lines, see Change.json())
/// {"sha256":"64 hex"}                                             (checksum of every byte before this line)
/// ```
/// `vector` is the sender's version vector: the newest clock it holds from each origin, so the
/// receiver knows what to send back. A bundle is refused whole when it is truncated, its checksum
/// does not match, it is of a newer format or schema, or of another municipality.
public struct Bundle: Hashable, Sendable {
    public static let formatName = "kmk-sync-bundle"
    /// The format version this build writes and reads.
    public static let version = 1

    public var municipality: String
    public var from: String
    public var target: String?
    public var created: HLC
    public var vector: [String: HLC]
    public var changes: [Change]
    /// Changes of the bundle this replica cannot read with its schema: set aside when the bundle
    /// is applied, with the others applied (SPEC.md §9).
    public var quarantined: [QuarantinedChange] = []

    public init(municipality: String, from: String, target: String?, created: HLC, vector: [String: HLC], changes: [Change]) {
        self.municipality = municipality
        self.from = from
        self.target = target
        self.created = created
        self.vector = vector
        self.changes = changes
    }

    /// The bundle's bytes.
    public func encoded(schema: Schema = .current) -> String {
        let vectorJSON = CanonicalJSON.object(vector.map { ($0.key, "\"\($0.value.hex)\"") })
        var body = "{\"format\":\"\(Self.formatName)\",\"version\":\(Self.version),\"schema\":\(schema.version),"
        body += "\"municipality\":" + CanonicalJSON.string(municipality) + ",\"from\":" + CanonicalJSON.string(from)
        body += ",\"for\":" + (target.map(CanonicalJSON.string) ?? "null") + ",\"created\":\"\(created.hex)\""
        body += ",\"count\":\(changes.count),\"vector\":\(vectorJSON)}\n"
        for c in changes { body += c.json(schema: schema) + "\n" }
        return body + "{\"sha256\":\"\(SHA256.hex(body))\"}\n"
    }

    /// Reads and verifies a bundle for a replica of `municipality`. `file` names it in errors.
    public static func decode(_ text: String, file: String, municipality: String, schema: Schema = .current) throws(SyncError) -> Bundle {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard let last = lines.last, last.hasPrefix("{\"sha256\":\""), last.hasSuffix("\"}"), last.count == 11 + 64 + 2 else {
            throw SyncError(.damaged, "\(file) is truncated or damaged: its last line is not the checksum; "
                + "copy the bundle again from the sending replica")
        }
        let body = lines.dropLast().map { $0 + "\n" }.joined()
        let expected = String(last.dropFirst(11).prefix(64))
        guard SHA256.hex(body) == expected else {
            throw SyncError(.damaged, "\(file) does not match its SHA-256 checksum: it was changed or damaged after it "
                + "was written; nothing was applied. Make a new bundle on the sending replica")
        }
        let header: JSONValue
        do { header = try JSONValue.parse(String(lines[0])) } catch {
            throw SyncError(.invalid, "\(file): the header is not valid JSON (\(error))")
        }
        guard header["format"]?.stringValue == formatName else {
            throw SyncError(.invalid, "\(file) is not a kmk-sync bundle")
        }
        guard let version = header["version"]?.intValue, let schemaVersion = header["schema"]?.intValue else {
            throw SyncError(.invalid, "\(file): the header lacks its version")
        }
        guard version <= Self.version, schemaVersion <= schema.version else {
            throw SyncError(.newerFormat, "\(file) was written by a newer kmk-sync (bundle format \(version), schema "
                + "\(schemaVersion)); upgrade kmk-sync on this machine to read it")
        }
        guard let m = header["municipality"]?.stringValue, let from = header["from"]?.stringValue,
              let createdText = header["created"]?.stringValue, let created = HLC(hex: createdText),
              let count = header["count"]?.intValue else {
            throw SyncError(.invalid, "\(file): the header lacks municipality, from, created or count")
        }
        guard m == municipality else {
            let name = Municipality.byCode[m]?.description ?? m
            throw SyncError(.wrongMunicipality, "\(file) holds changes of \(name), but this replica is for municipality "
                + "\(Municipality.byCode[municipality]?.description ?? municipality); nothing was applied")
        }
        guard count == lines.count - 2 else {
            throw SyncError(.damaged, "\(file) says it holds \(count) changes but has \(lines.count - 2); it is incomplete")
        }
        var vector: [String: HLC] = [:]
        if case .object(let members)? = header["vector"] {
            for member in members {
                guard let text = member.value.stringValue, let clock = HLC(hex: text) else {
                    throw SyncError(.invalid, "\(file): the version vector is malformed")
                }
                vector[member.key] = clock
            }
        }
        var changes: [Change] = []
        var quarantined: [QuarantinedChange] = []
        changes.reserveCapacity(count)
        // The checksum held, so the file is as it was written: a change this replica cannot
        // read is set aside (SPEC.md §6, §9), the others applied.
        for (i, line) in lines.dropFirst().dropLast().enumerated() {
            let json: JSONValue
            do {
                json = try JSONValue.parse(String(line))
            } catch {
                quarantined.append(QuarantinedChange(text: String(line), reason: "\(file):\(i + 2): not a JSON change (\(error))"))
                continue
            }
            do {
                changes.append(try Change(json: json, schema: schema))
            } catch {
                var q = QuarantinedChange(json: json, reason: "\(file):\(i + 2): \(error.message)")
                q.text = String(line)
                quarantined.append(q)
            }
        }
        var bundle = Bundle(municipality: m, from: from, target: header["for"]?.stringValue, created: created,
                            vector: vector, changes: changes)
        bundle.quarantined = quarantined
        return bundle
    }
}
