/// Judges criteria for one municipality's indexed records on one report date.
struct ComplianceJudge {
    let index: ComplianceIndex
    let asOf: ISODate

    /// `date` lies in the `months` months up to and including the report date.
    func within(_ date: ISODate?, months: Int) -> Bool {
        guard let date else { return false }
        return asOf.adding(months: -months) <= date && date <= asOf
    }

    /// The first day of the window of `months` months up to the report date.
    func windowStart(months: Int) -> ISODate { asOf.adding(months: -months) }

    /// An action from a round held by the report date that was still open then and whose due
    /// date lies more than `graceDays` days before it.
    func overdue(_ action: Record, _ roundDay: ISODate, graceDays: Int) -> Bool {
        guard roundDay <= asOf, let due = action.date("due_on"), due.adding(days: graceDays) < asOf else { return false }
        switch action["status"].text {
        case "open": return true
        case "done", "dropped":
            // Closed later than the report date: it was still open then.
            return action.date("done_on").map { $0 > asOf } ?? false
        default: return false
        }
    }

    /// Whether the venue was a member on the report date: a member that had joined by then
    /// (or whose joining date is not recorded), or one that has left since.
    func isMember(_ venue: Record) -> Bool {
        switch venue["membership"].text {
        case "member": return venue.date("joined_on").map { $0 <= asOf } ?? true
        case "left":
            guard let left = venue.date("left_on"), left > asOf else { return false }
            return venue.date("joined_on").map { $0 <= asOf } ?? false
        default: return false
        }
    }

    func result(_ c: Criterion, venue: Record) -> CriterionResult {
        let (outcome, reason) = judgeVenue(c, venue)
        return CriterionResult(code: c.code, text: c.textEN, mandatory: c.mandatory, outcome: outcome, reason: reason)
    }

    func result(_ c: Criterion, input: ComplianceInput, figures: MunicipalityFigures) -> CriterionResult {
        let (outcome, reason) = judgeMunicipality(c, input, figures)
        return CriterionResult(code: c.code, text: c.textEN, mandatory: c.mandatory, outcome: outcome, reason: reason)
    }

    /// Checks yes/no fields of `record`: met when all are yes; not met when one is no;
    /// otherwise unknown.
    func fieldsTrue(_ record: Record?, _ fields: [String]) -> (Outcome, String) {
        guard !fields.isEmpty else { return (.unknown, "the criterion names no fields (params.fields)") }
        guard let record else { return (.unknown, "no profile recorded") }
        let no = fields.filter { record.flag($0) == false }
        let missing = fields.filter { record.flag($0) == nil }
        if !no.isEmpty { return (.notMet, no.map { "\(words($0)): no" }.joined(separator: "; ")) }
        if !missing.isEmpty { return (.unknown, missing.map { "\(words($0)) not recorded" }.joined(separator: "; ")) }
        return (.met, fields.map { "\(words($0)): yes" }.joined(separator: "; "))
    }

    /// Checks that fields of `record` have values.
    func fieldsPresent(_ record: Record?, _ fields: [String]) -> (Outcome, String) {
        guard !fields.isEmpty else { return (.unknown, "the criterion names no fields (params.fields)") }
        guard let record else { return (.unknown, "no profile recorded") }
        let missing = fields.filter { record[$0].isNull }
        if !missing.isEmpty { return (.unknown, missing.map { "\(words($0)) not recorded" }.joined(separator: "; ")) }
        let late = fields.filter { f in record.date(f).map { $0 > asOf } ?? false }
        if !late.isEmpty { return (.notMet, late.map { "\(words($0)) \(record[$0].text ?? "") is after \(asOf)" }.joined(separator: "; ")) }
        return (.met, fields.map { "\(words($0)) \(record[$0].description)" }.joined(separator: "; "))
    }

    /// A field name in words: `has_drug_policy` → "drug policy".
    func words(_ field: String) -> String {
        var w = field
        for prefix in ["has_", "shows_"] where w.hasPrefix(prefix) { w.removeFirst(prefix.count) }
        if w.hasSuffix("_on") { w.removeLast(3); w += " date" }
        return w.replacingUnderscores()
    }
}

/// A share as a whole percentage: 0.25 → "25%".
func percent(_ share: Double) -> String {
    "\(Int((share * 100).rounded()))%"
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }
}
