/// A version of the national criteria (SPEC.md §12): national reference data owned by the
/// styrgrupp, with a validity period so that a report for an earlier date is judged by the
/// criteria that applied then.
public struct CriteriaSet: Hashable, Sendable {
    /// The record id.
    public var id: String
    public var name: String
    public var version: Int
    public var validFrom: ISODate
    /// The last day the set applies; nil when open-ended.
    public var validUntil: ISODate?
    public var criteria: [Criterion]

    public init(id: String, name: String, version: Int, validFrom: ISODate, validUntil: ISODate? = nil, criteria: [Criterion]) {
        self.id = id
        self.name = name
        self.version = version
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.criteria = criteria
    }

    /// Whether the set applies on `date`.
    public func applies(on date: ISODate) -> Bool {
        validFrom <= date && (validUntil.map { date <= $0 } ?? true)
    }

    /// The criteria of one scope, in code order.
    public func criteria(_ scope: Criterion.Scope) -> [Criterion] {
        criteria.filter { $0.scope == scope }.sorted { $0.code < $1.code }
    }

    /// Reads criteria sets from `criteria_set` and `criterion` records. A criterion that cannot be
    /// read is reported in `problems` and left out; a criterion of a missing set is left out too.
    public static func read(sets: [Record], criteria: [Record]) -> (sets: [CriteriaSet], problems: [String]) {
        var problems: [String] = []
        var bySet: [String: [Criterion]] = [:]
        for r in criteria {
            do {
                let c = try Criterion(record: r)
                guard let set = r["criteria_set"].text else { continue }
                bySet[set, default: []].append(c)
            } catch {
                problems.append(error.message)
            }
        }
        var result: [CriteriaSet] = []
        for r in sets {
            guard let name = r["name"].text, let version = r["version"].integer,
                  let from = r["valid_from"].text.flatMap(ISODate.init) else {
                problems.append("criteria set \(r.id) lacks its name, version or valid_from")
                continue
            }
            result.append(CriteriaSet(id: r.id, name: name, version: Int(version), validFrom: from,
                                      validUntil: r["valid_until"].text.flatMap(ISODate.init),
                                      criteria: bySet[r.id] ?? []))
        }
        return (result.sorted { ($0.validFrom, $0.version, $0.id) < ($1.validFrom, $1.version, $1.id) }, problems)
    }

    /// The set that applies on `date`: of those valid then, the highest version (then the latest
    /// `valid_from`, then the greatest id, so every replica picks the same one).
    public static func applying(on date: ISODate, from sets: [CriteriaSet]) -> CriteriaSet? {
        sets.filter { $0.applies(on: date) }.max { ($0.version, $0.validFrom, $0.id) < ($1.version, $1.validFrom, $1.id) }
    }

    /// The fields of the `criteria_set` record.
    public var fields: [String: Value] {
        var f: [String: Value] = ["name": .text(name), "version": .integer(Int64(version)), "valid_from": .text(validFrom.description)]
        if let validUntil { f["valid_until"] = .text(validUntil.description) }
        return f
    }
}
