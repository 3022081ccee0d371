/// One municipality's live records, as the compliance evaluation reads them: from a replica
/// (the municipality's own view) or from the hub (the national view).
public struct ComplianceInput: Sendable {
    /// The kommunkod.
    public var municipality: String
    /// The municipality's profile record, if any.
    public var profile: Record?
    /// Live records by entity name (municipal entities only).
    public var records: [String: [Record]]

    public init(municipality: String, profile: Record? = nil, records: [String: [Record]]) {
        self.municipality = municipality
        self.profile = profile
        self.records = records
    }

    /// The records of one entity.
    public subscript(entity: String) -> [Record] { records[entity] ?? [] }
}

/// A record whose venue (or training, round, meeting) was deleted elsewhere: listed in reports,
/// not counted.
public struct OrphanRecord: Codable, Hashable, Sendable {
    public var entity: String
    public var id: String
    /// What it points to that no longer exists, e.g. "venue 3f1c…".
    public var missing: String

    public init(entity: String, id: String, missing: String) {
        self.entity = entity
        self.id = id
        self.missing = missing
    }
}

/// The input indexed for evaluation: what belongs to each venue, with orphans set aside.
struct ComplianceIndex {
    var venues: [Record] = []
    var agreements: [String: [Record]] = [:]
    var trainings: [String: Record] = [:]
    /// Per venue: (training date, training_venue record).
    var trained: [String: [(ISODate, Record)]] = [:]
    var rounds: [String: [Record]] = [:]
    /// Per venue: (round date, action record).
    var actions: [String: [(ISODate, Record)]] = [:]
    var drugTests: [String: [Record]] = [:]
    /// Per venue: meeting dates attended.
    var attended: [String: [ISODate]] = [:]
    var orphans: [OrphanRecord] = []

    init(_ input: ComplianceInput) {
        venues = input["venue"].sorted { ($0["name"].text ?? "", $0.id) < ($1["name"].text ?? "", $1.id) }
        let venueIDs = Set(venues.map(\.id))
        func owned(_ entity: String, by field: String = "venue") -> [String: [Record]] {
            var result: [String: [Record]] = [:]
            for r in input[entity] {
                guard let v = r[field].text, venueIDs.contains(v) else {
                    orphans.append(OrphanRecord(entity: entity, id: r.id, missing: "\(field) \(r[field].text ?? "(none)")"))
                    continue
                }
                result[v, default: []].append(r)
            }
            return result
        }
        agreements = owned("agreement")
        rounds = owned("round")
        drugTests = owned("drug_test")
        for r in input["police_contact"] where !(r["venue"].text.map(venueIDs.contains) ?? false) {
            orphans.append(OrphanRecord(entity: "police_contact", id: r.id, missing: "venue \(r["venue"].text ?? "(none)")"))
        }
        for t in input["training"] { trainings[t.id] = t }
        for tv in input["training_venue"] {
            guard let v = tv["venue"].text, venueIDs.contains(v) else {
                orphans.append(OrphanRecord(entity: "training_venue", id: tv.id, missing: "venue \(tv["venue"].text ?? "(none)")"))
                continue
            }
            guard let t = tv["training"].text.flatMap({ trainings[$0] }), let day = t.date("held_on") else {
                orphans.append(OrphanRecord(entity: "training_venue", id: tv.id, missing: "training \(tv["training"].text ?? "(none)")"))
                continue
            }
            trained[v, default: []].append((day, tv))
        }
        var roundVenue: [String: (String, ISODate)] = [:]
        for (v, list) in rounds {
            for r in list { if let day = r.date("held_on") { roundVenue[r.id] = (v, day) } }
        }
        for a in input["action"] {
            guard let (v, day) = a["round"].text.flatMap({ roundVenue[$0] }) else {
                orphans.append(OrphanRecord(entity: "action", id: a.id, missing: "round \(a["round"].text ?? "(none)")"))
                continue
            }
            actions[v, default: []].append((day, a))
        }
        var meetings: [String: ISODate] = [:]
        for m in input["meeting"] { if let day = m.date("held_on") { meetings[m.id] = day } }
        for mv in input["meeting_venue"] {
            guard let v = mv["venue"].text, venueIDs.contains(v) else {
                orphans.append(OrphanRecord(entity: "meeting_venue", id: mv.id, missing: "venue \(mv["venue"].text ?? "(none)")"))
                continue
            }
            guard let day = mv["meeting"].text.flatMap({ meetings[$0] }) else {
                orphans.append(OrphanRecord(entity: "meeting_venue", id: mv.id, missing: "meeting \(mv["meeting"].text ?? "(none)")"))
                continue
            }
            attended[v, default: []].append(day)
        }
        orphans.sort { ($0.entity, $0.id) < ($1.entity, $1.id) }
    }
}

extension Record {
    /// A date field's value, nil when NULL or not a date.
    func date(_ field: String) -> ISODate? { self[field].text.flatMap(ISODate.init) }

    /// A yes/no field's value, nil when NULL.
    func flag(_ field: String) -> Bool? { self[field].integer.map { $0 != 0 } }
}
