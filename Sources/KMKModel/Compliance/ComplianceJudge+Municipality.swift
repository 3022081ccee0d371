extension ComplianceJudge {
    /// The municipality rule kinds (SPEC.md §12.2).
    func judgeMunicipality(_ c: Criterion, _ input: ComplianceInput, _ figures: MunicipalityFigures) -> (Outcome, String) {
        let p = c.params
        switch c.rule {
        case "fields_true": return fieldsTrue(input.profile, p.strings("fields"))
        case "fields_present": return fieldsPresent(input.profile, p.strings("fields"))
        case "count_within":
            guard let entity = p.string("entity"), let field = p.string("date_field") else {
                return (.unknown, "the criterion needs params.entity and params.date_field")
            }
            let months = p.int("months", 12), min = p.int("min", 1)
            let kind = p.string("kind")
            let n = input[entity].filter { r in
                within(r.date(field), months: months) && (kind.map { r["kind"].text == $0 } ?? true)
            }.count
            let what = (kind.map { $0.replacingUnderscores() + " " } ?? "") + entity.replacingUnderscores()
            let plural = n == 1 ? what : what + "s"
            return (n >= min ? .met : .notMet, "\(n) \(plural) in the \(months) months to \(asOf) (needs \(min))")
        case "compliant_share":
            let need = p.number("min_share", 0.5)
            guard let share = figures.share else { return (.unknown, "no member venues") }
            return (share + 1e-9 >= need ? .met : .notMet,
                    "\(figures.compliantVenues) of \(figures.memberVenues) member venues compliant (\(percent(share)), needs \(percent(need)))")
        default:
            return (.unknown, "rule '\(c.rule)' is not known to this kmk-sync; upgrade kmk-sync to judge it")
        }
    }
}
