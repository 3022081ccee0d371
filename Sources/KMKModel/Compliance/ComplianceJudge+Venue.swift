extension ComplianceJudge {
    /// The venue rule kinds (SPEC.md §12.2).
    func judgeVenue(_ c: Criterion, _ venue: Record) -> (Outcome, String) {
        let p = c.params
        switch c.rule {
        case "membership":
            let m = venue["membership"].text ?? "not recorded"
            if isMember(venue) {
                return (.met, "member" + (venue.date("joined_on").map { " since \($0)" } ?? "")
                    + (m == "left" ? " (left \(venue["left_on"].text ?? "?"))" : ""))
            }
            if let joined = venue.date("joined_on"), joined > asOf { return (.notMet, "joined \(joined), after \(asOf)") }
            return (.notMet, "membership: \(m)" + (venue["left_on"].text.map { " since \($0)" } ?? ""))
        case "agreement_valid": return agreement(venue)
        case "fields_true": return fieldsTrue(venue, p.strings("fields"))
        case "date_within":
            guard let field = p.string("field") else { return (.unknown, "the criterion names no field (params.field)") }
            let months = p.int("months", 12)
            guard let d = venue.date(field) else { return (.unknown, "\(words(field)) not recorded") }
            if within(d, months: months) { return (.met, "\(words(field)) \(d)") }
            return (.notMet, "\(words(field)) \(d), \(d > asOf ? "after the report date" : "more than \(months) months ago")")
        case "staff_trained": return training(venue, p)
        case "round_recent": return round(venue, p)
        case "no_overdue_actions":
            let days = p.int("days", 90)
            let late = (index.actions[venue.id] ?? []).filter { overdue($0.1, $0.0, graceDays: days) }
                .sorted { ($0.1.date("due_on") ?? asOf, $0.1["category"].text ?? "", $0.1.id) < ($1.1.date("due_on") ?? asOf, $1.1["category"].text ?? "", $1.1.id) }
            let open = (index.actions[venue.id] ?? []).filter { overdue($0.1, $0.0, graceDays: -100_000) }.count
            if late.isEmpty {
                return (.met, open == 0 ? "no open actions from rounds" : "\(open) open action\(open == 1 ? "" : "s"), none more than \(days) days overdue")
            }
            let list = late.prefix(3).map { "\(($0.1["category"].text ?? "action").replacingUnderscores()) due \($0.1["due_on"].text ?? "?")" }
            return (.notMet, "\(late.count) action\(late.count == 1 ? "" : "s") more than \(days) days overdue: "
                + list.joined(separator: ", ") + (late.count > 3 ? ", …" : ""))
        case "drug_tests_if_agreed":
            guard let agreement = validAgreement(venue) else {
                return (.met, "not applicable: no valid agreement with drug tests")
            }
            guard let includes = agreement.flag("includes_drug_tests") else {
                return (.unknown, "the agreement signed \(agreement["signed_on"].text ?? "?") does not say whether it includes drug tests")
            }
            guard includes else { return (.met, "not applicable: the agreement does not include drug tests") }
            let months = p.int("months", 12)
            let tests = (index.drugTests[venue.id] ?? []).compactMap { $0.date("tested_on") }.filter { $0 <= asOf }.sorted()
            if let last = tests.last, within(last, months: months) { return (.met, "drug tests on \(last)") }
            return (.notMet, "the agreement includes drug tests but none in the \(months) months to \(asOf)"
                + (tests.last.map { " (last \($0))" } ?? " (none recorded)"))
        case "meetings_attended":
            let months = p.int("months", 12), min = p.int("min", 1)
            let n = (index.attended[venue.id] ?? []).filter { within($0, months: months) }.count
            return (n >= min ? .met : .notMet, "attended \(n) meeting\(n == 1 ? "" : "s") in the \(months) months to \(asOf) (needs \(min))")
        default:
            return (.unknown, "rule '\(c.rule)' is not known to this kmk-sync; upgrade kmk-sync to judge it")
        }
    }

    /// The agreement valid on the report date, if any (the latest signed).
    func validAgreement(_ venue: Record) -> Record? {
        (index.agreements[venue.id] ?? []).filter { a in
            guard let signed = a.date("signed_on"), signed <= asOf else { return false }
            return a.date("valid_until").map { asOf <= $0 } ?? true
        }.max { ($0.date("signed_on")!, $0.id) < ($1.date("signed_on")!, $1.id) }
    }

    func agreement(_ venue: Record) -> (Outcome, String) {
        if let a = validAgreement(venue) {
            return (.met, "agreement signed \(a["signed_on"].text ?? "?"), "
                + (a["valid_until"].text.map { "valid until \($0)" } ?? "with no end date"))
        }
        let signed = (index.agreements[venue.id] ?? []).filter { ($0.date("signed_on") ?? asOf) <= asOf }
        if let last = signed.compactMap({ $0.date("valid_until") }).max() {
            return (.notMet, "agreement expired \(last)")
        }
        if let next = (index.agreements[venue.id] ?? []).compactMap({ $0.date("signed_on") }).filter({ $0 > asOf }).min() {
            return (.notMet, "no agreement yet on \(asOf) (the first is signed \(next))")
        }
        return (.notMet, "no agreement recorded")
    }

    func training(_ venue: Record, _ p: RuleParams) -> (Outcome, String) {
        let months = p.int("months", 36)
        let since = windowStart(months: months)
        let recent = (index.trained[venue.id] ?? []).filter { within($0.0, months: months) }.map(\.1)
        var parts: [String] = []
        var outcome = Outcome.met
        for (countField, trainedField, label, key, fallback) in [
            ("staff_count", "staff_trained", "staff", "staff_share", 0.8),
            ("door_staff_count", "door_staff_trained", "door staff", "door_share", 1.0),
            ("key_staff_count", "key_staff_trained", "key persons", "key_share", -1.0),
        ] {
            let need = p.number(key, fallback)
            guard need >= 0 else { continue }
            guard let total = venue[countField].integer else {
                parts.append("\(label) count not recorded")
                if outcome == .met { outcome = .unknown }
                continue
            }
            let trained = min(Int(total), recent.map { Int($0[trainedField].integer ?? 0) }.reduce(0, +))
            if total == 0 { parts.append("no \(label)"); continue }
            let share = Double(trained) / Double(total)
            let ok = share + 1e-9 >= need
            parts.append("\(trained) of \(total) \(label) trained (\(percent(share))" + (ok ? ")" : ", needs \(percent(need)))"))
            if !ok { outcome = .notMet }
        }
        return (outcome, parts.joined(separator: "; ") + " since \(since)")
    }

    func round(_ venue: Record, _ p: RuleParams) -> (Outcome, String) {
        let months = p.int("months", 12)
        let all = (index.rounds[venue.id] ?? []).filter { ($0.date("held_on").map { $0 <= asOf }) ?? false }
            .sorted { $0.date("held_on")! < $1.date("held_on")! }
        let recent = all.filter { within($0.date("held_on"), months: months) }
        guard !recent.isEmpty else {
            return (.notMet, "no krogmiljörond in the \(months) months to \(asOf)"
                + (all.last.map { " (last \($0["held_on"].text ?? "?"))" } ?? " (none recorded)"))
        }
        let listed = recent.suffix(3).map { "\($0["held_on"].text ?? "?") \($0["time_of_day"].text ?? "time not recorded")" }
            .joined(separator: ", ")
        guard p.bool("day_and_night", false) else { return (.met, "rounds: \(listed)") }
        let times = recent.map { $0["time_of_day"].text }
        let day = times.contains("day"), night = times.contains("evening") || times.contains("night")
        if day && night { return (.met, "rounds by day and at night: \(listed)") }
        if times.contains(nil) { return (.unknown, "time of day not recorded for every round: \(listed)") }
        return (.notMet, "no \(day ? "evening or night" : "day") round in the \(months) months to \(asOf) (rounds: \(listed))")
    }
}
