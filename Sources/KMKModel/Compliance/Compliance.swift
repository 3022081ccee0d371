/// The compliance evaluation (SPEC.md §12): a pure function of a municipality's records, a
/// criteria set and a report date.
public enum Compliance {
    /// Evaluates `input` on `asOf` with the criteria set that applies then (of `sets`; the
    /// built-in default when none does), and the trend from `trendFrom` (a year) to `asOf`.
    public static func report(_ input: ComplianceInput, sets: [CriteriaSet], asOf: ISODate, trendFrom: Int? = nil,
                              problems: [String] = []) -> MunicipalityReport {
        var report = evaluate(input, sets: sets, asOf: asOf)
        report.problems = problems
        let first = trendFrom ?? asOf.year
        if first < asOf.year {
            for year in max(first, asOf.year - 30)..<asOf.year {
                let r = evaluate(input, sets: sets, asOf: ISODate(year: year, month: 12, day: 31)!)
                report.trend.append(YearFigures(year: year, memberVenues: r.figures.memberVenues,
                                                compliantVenues: r.figures.compliantVenues))
            }
        }
        report.trend.append(YearFigures(year: asOf.year, memberVenues: report.figures.memberVenues,
                                        compliantVenues: report.figures.compliantVenues))
        return report
    }

    /// Evaluates `input` on `asOf` with the set of `sets` that applies then, or the built-in default.
    static func evaluate(_ input: ComplianceInput, sets: [CriteriaSet], asOf: ISODate) -> MunicipalityReport {
        if let set = CriteriaSet.applying(on: asOf, from: sets) {
            return evaluate(input, criteria: set, builtIn: false, asOf: asOf)
        }
        return evaluate(input, criteria: .kmkDefault, builtIn: true, asOf: asOf)
    }

    /// Evaluates `input` on `asOf` with `criteria`. Records dated after `asOf` are ignored, so a
    /// report for an earlier date sees the data as it stood then.
    public static func evaluate(_ input: ComplianceInput, criteria: CriteriaSet, builtIn: Bool = false,
                                asOf: ISODate) -> MunicipalityReport {
        let index = ComplianceIndex(input)
        let judge = ComplianceJudge(index: index, asOf: asOf)
        var figures = MunicipalityFigures()
        var venues: [VenueReport] = []
        for venue in index.venues {
            let results = criteria.criteria(.venue).map { judge.result($0, venue: venue) }
            let membership = venue["membership"].text ?? ""
            let member = judge.isMember(venue)
            let green = member && results.allSatisfy { !$0.mandatory || $0.outcome == .met }
            let status: VenueStatus = !member ? .notTakingPart : green ? .green : .orange
            figures.countVenue(member: member, green: green)
            venues.append(VenueReport(id: venue.id, name: venue["name"].text ?? venue.id, membership: membership,
                                      status: status, results: results))
        }
        let results = criteria.criteria(.municipality).map {
            judge.result($0, input: input, figures: figures)
        }
        let yearStart = ISODate(year: asOf.year, month: 1, day: 1)!
        let thisYear = { (d: ISODate?) in d.map { yearStart <= $0 && $0 <= asOf } ?? false }
        let trainingsThisYear = Set(index.trainings.values.filter { thisYear($0.date("held_on")) }.map(\.id))
        figures.trainingsThisYear = trainingsThisYear.count
        figures.peopleTrainedThisYear = index.trained.values.joined().filter { thisYear($0.0) }
            .map { Int($0.1["staff_trained"].integer ?? 0) }.reduce(0, +)
        figures.meetingsThisYear = input["meeting"].filter { thisYear($0.date("held_on")) }.count
        figures.openOverdueActions = index.actions.values.joined().filter { judge.overdue($0.1, $0.0, graceDays: 0) }.count
        return MunicipalityReport(
            municipality: input.municipality,
            name: input.profile?["name"].text ?? Municipality.byCode[input.municipality]?.name ?? input.municipality,
            asOf: asOf.description,
            criteria: CriteriaReference(id: criteria.id, name: criteria.name, version: criteria.version, builtIn: builtIn),
            meetsCriteria: results.allSatisfy { !$0.mandatory || $0.outcome == .met },
            results: results, venues: venues, figures: figures, trend: [], orphans: index.orphans, problems: [])
    }
}
