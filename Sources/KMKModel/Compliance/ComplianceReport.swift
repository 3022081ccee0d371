/// A venue's status on the national list: green when it meets every mandatory criterion, orange
/// when it takes part (is a member) but does not yet, otherwise not taking part.
public enum VenueStatus: String, Codable, Hashable, Sendable {
    case green
    case orange
    case notTakingPart = "not_taking_part"
}

/// One venue's results.
public struct VenueReport: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    /// applicant, member or left.
    public var membership: String
    public var status: VenueStatus
    public var results: [CriterionResult]
}

/// Which criteria set judged a report.
public struct CriteriaReference: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var version: Int
    /// True when no set from the styrgrupp applied and the built-in default was used.
    public var builtIn: Bool

    public init(id: String, name: String, version: Int, builtIn: Bool) {
        self.id = id
        self.name = name
        self.version = version
        self.builtIn = builtIn
    }
}

/// A municipality's figures on the report date.
public struct MunicipalityFigures: Codable, Hashable, Sendable {
    /// Venues that were members on the report date (joined by then, not yet left).
    public var memberVenues = 0
    /// Member venues that are green.
    public var compliantVenues = 0
    /// Trainings held in the report date's calendar year, up to the report date.
    public var trainingsThisYear = 0
    /// Staff trained at those trainings (sum over venues of staff trained).
    public var peopleTrainedThisYear = 0
    /// Meetings of any kind held in that calendar year, up to the report date.
    public var meetingsThisYear = 0
    /// Actions from rounds still open on the report date whose due date had passed.
    public var openOverdueActions = 0

    /// Compliant member venues as a share of member venues (0…1), nil when there are none.
    /// Kept up to date by ``countVenue(member:green:)`` and `+`.
    public private(set) var share: Double?

    public init() {}

    /// Counts one venue.
    public mutating func countVenue(member: Bool, green: Bool) {
        guard member else { return }
        memberVenues += 1
        if green { compliantVenues += 1 }
        share = Double(compliantVenues) / Double(memberVenues)
    }

    public static func + (a: MunicipalityFigures, b: MunicipalityFigures) -> MunicipalityFigures {
        var s = MunicipalityFigures()
        s.memberVenues = a.memberVenues + b.memberVenues
        s.compliantVenues = a.compliantVenues + b.compliantVenues
        s.trainingsThisYear = a.trainingsThisYear + b.trainingsThisYear
        s.peopleTrainedThisYear = a.peopleTrainedThisYear + b.peopleTrainedThisYear
        s.meetingsThisYear = a.meetingsThisYear + b.meetingsThisYear
        s.openOverdueActions = a.openOverdueActions + b.openOverdueActions
        s.share = s.memberVenues == 0 ? nil : Double(s.compliantVenues) / Double(s.memberVenues)
        return s
    }
}

/// Member and compliant venues at the end of one year (or on the report date for its own year).
public struct YearFigures: Codable, Hashable, Sendable {
    public var year: Int
    public var memberVenues: Int
    public var compliantVenues: Int
    /// compliantVenues / memberVenues, nil when there are no member venues.
    public var share: Double?

    public init(year: Int, memberVenues: Int, compliantVenues: Int) {
        self.year = year
        self.memberVenues = memberVenues
        self.compliantVenues = compliantVenues
        self.share = memberVenues == 0 ? nil : Double(compliantVenues) / Double(memberVenues)
    }
}

/// One municipality's compliance on a report date: its own criteria and every venue's, with
/// reasons; orphaned records listed, not counted.
public struct MunicipalityReport: Codable, Hashable, Sendable {
    /// The kommunkod.
    public var municipality: String
    public var name: String
    /// The report date, YYYY-MM-DD.
    public var asOf: String
    public var criteria: CriteriaReference
    /// True when every mandatory municipality criterion is met.
    public var meetsCriteria: Bool
    public var results: [CriterionResult]
    public var venues: [VenueReport]
    public var figures: MunicipalityFigures
    /// Member and compliant venues by year, oldest first.
    public var trend: [YearFigures]
    public var orphans: [OrphanRecord]
    /// Criteria that could not be read, and similar problems with the criteria data.
    public var problems: [String]
}
