import KMKModel

extension Replica {
    /// The municipality's live records, as the compliance evaluation reads them.
    public func complianceInput() throws -> ComplianceInput {
        var records: [String: [Record]] = [:]
        for e in schema.entities where e.scope == .municipal && e.identity != .municipalityCode {
            records[e.name] = try self.records(e.name, includeLocal: false)
        }
        let profile = try record(EntitySpec.municipality.name, id: municipality.code, includeLocal: false)
        return ComplianceInput(municipality: municipality.code, profile: profile, records: records)
    }

    /// The criteria sets the replica holds (pulled from the hub), and problems reading them.
    public func criteriaSets() throws -> (sets: [CriteriaSet], problems: [String]) {
        CriteriaSet.read(sets: try records(EntitySpec.criteriaSet.name), criteria: try records(EntitySpec.criterion.name))
    }

    /// The municipality's own compliance report on `asOf` (SPEC.md §12), with the trend from the
    /// first year of its data.
    public func complianceReport(asOf: ISODate) throws -> MunicipalityReport {
        let input = try complianceInput()
        let (sets, problems) = try criteriaSets()
        return Compliance.report(input, sets: sets, asOf: asOf, trendFrom: input.firstYear, problems: problems)
    }
}
