extension ComplianceInput {
    /// The earliest year any dated record of the municipality falls in (for the trend), nil when
    /// nothing is dated.
    public var firstYear: Int? {
        let dateFields = ["joined_on", "held_on", "signed_on", "tested_on", "done_on", "contacted_on"]
        var first: Int?
        for (entity, list) in records where entity != "indicator" && entity != "campaign" {
            for r in list {
                for f in dateFields { if let d = r.date(f), first.map({ d.year < $0 }) ?? true { first = d.year } }
            }
        }
        return first
    }
}
