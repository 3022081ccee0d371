import KMKModel

extension HubStore {
    /// Every municipality's live records as the hub holds them, and the national criteria sets.
    public func complianceInputs() throws -> (inputs: [ComplianceInput], sets: [CriteriaSet], problems: [String]) {
        var national: [String: [Record]] = [:]
        var municipal: [String: [String: [Record]]] = [:]
        var profiles: [String: Record] = [:]
        var current: (muni: String?, e: EntitySpec, pk: String)?
        var alive = false
        var fields: [String: Value] = [:]
        func flush() {
            guard let c = current, alive else { return }
            let record = Record(entity: c.e.name, id: c.pk, fields: fields)
            if let muni = c.muni {
                if c.e.identity == .municipalityCode { profiles[muni] = record } else { municipal[muni, default: [:]][c.e.name, default: []].append(record) }
            } else {
                national[c.e.name, default: []].append(record)
            }
        }
        _ = try db.cached("SELECT muni, tbl, pk, col, val FROM hub_register ORDER BY tbl, pk, col").rows { row -> Void in
            guard let e = schema.entity(number: Int(row.int64(1))) else { return }
            let pk = row.text(2) ?? ""
            let muni = row.isNull(0) ? nil : row.text(0)
            if current?.e.number != e.number || current?.pk != pk {
                flush()
                current = (muni, e, pk)
                alive = false
                fields = [:]
            }
            let col = Int(row.int64(3))
            if col == 0 {
                alive = (row.int64(4) % 2) == 1
            } else if let f = e.field(number: col), !f.localOnly {
                let v = row.value(4)
                if !v.isNull { fields[f.name] = v }
            }
        }
        flush()
        let (sets, problems) = CriteriaSet.read(sets: national[EntitySpec.criteriaSet.name] ?? [],
                                                criteria: national[EntitySpec.criterion.name] ?? [])
        let codes = Set(municipal.keys).union(profiles.keys).sorted()
        let inputs = codes.map { ComplianceInput(municipality: $0, profile: profiles[$0], records: municipal[$0] ?? [:]) }
        return (inputs, sets, problems)
    }

    /// The national report on `asOf`: every municipality the hub holds, judged by the criteria
    /// that apply then, with the trend by year from the earliest data.
    public func nationalReport(asOf: ISODate) throws -> (national: NationalReport, municipalities: [MunicipalityReport]) {
        let (inputs, sets, problems) = try complianceInputs()
        let first = inputs.compactMap(\.firstYear).min()
        let reports = inputs.map { Compliance.report($0, sets: sets, asOf: asOf, trendFrom: first, problems: problems) }
        let criteria = reports.first?.criteria ?? {
            let set = CriteriaSet.applying(on: asOf, from: sets) ?? .kmkDefault
            return CriteriaReference(id: set.id, name: set.name, version: set.version, builtIn: CriteriaSet.applying(on: asOf, from: sets) == nil)
        }()
        return (NationalReport(asOf: asOf, criteria: criteria, reports: reports), reports)
    }

    /// One municipality's report on `asOf` as the hub holds its data, nil when the hub holds none.
    public func municipalityReport(_ code: String, asOf: ISODate) throws -> MunicipalityReport? {
        let (inputs, sets, problems) = try complianceInputs()
        guard let input = inputs.first(where: { $0.municipality == code }) else { return nil }
        return Compliance.report(input, sets: sets, asOf: asOf, trendFrom: input.firstYear, problems: problems)
    }
}
