/// The national compliance report (SPEC.md §12.4): every municipality's figures, the totals
/// (the sums of the municipalities' own figures) and the trend by year.
public struct NationalReport: Codable, Hashable, Sendable {
    /// One municipality's line.
    public struct Line: Codable, Hashable, Sendable {
        public var municipality: String
        public var name: String
        public var meetsCriteria: Bool
        public var figures: MunicipalityFigures
        public var trend: [YearFigures]
        /// Mandatory municipality criteria not met (codes).
        public var missing: [String]
    }

    /// The report date, YYYY-MM-DD.
    public var asOf: String
    /// The criteria set that judged the report date.
    public var criteria: CriteriaReference
    public var municipalities: [Line]
    public var totals: MunicipalityFigures
    /// National member and compliant venues by year.
    public var trend: [YearFigures]

    /// Sums municipality reports into the national report.
    public init(asOf: ISODate, criteria: CriteriaReference, reports: [MunicipalityReport]) {
        self.asOf = asOf.description
        self.criteria = criteria
        municipalities = reports.map { r in
            Line(municipality: r.municipality, name: r.name, meetsCriteria: r.meetsCriteria, figures: r.figures,
                 trend: r.trend, missing: r.results.filter { $0.mandatory && $0.outcome != .met }.map(\.code))
        }
        totals = reports.map(\.figures).reduce(MunicipalityFigures(), +)
        var byYear: [Int: (Int, Int)] = [:]
        for r in reports {
            for y in r.trend {
                let (m, c) = byYear[y.year] ?? (0, 0)
                byYear[y.year] = (m + y.memberVenues, c + y.compliantVenues)
            }
        }
        trend = byYear.keys.sorted().map { YearFigures(year: $0, memberVenues: byYear[$0]!.0, compliantVenues: byYear[$0]!.1) }
    }
}
