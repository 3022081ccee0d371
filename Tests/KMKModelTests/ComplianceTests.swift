import Foundation
import KMKModel
import KMKTestSupport
import Testing

/// Expected results worked out by hand from the fixture files (see Fixtures/README.md).
@Suite("Compliance evaluation")
struct ComplianceTests {
    static func fixture(_ name: String) throws -> ComplianceInput {
        let url = PackageDirectory.url("Fixtures/\(name).json")
        let doc = try ExportDocument.decode(String(contentsOf: url, encoding: .utf8), file: url.path)
        var records: [String: [Record]] = [:]
        var profile: Record?
        for r in doc.records {
            if r.entity == "municipality" { profile = r } else { records[r.entity, default: []].append(r) }
        }
        return ComplianceInput(municipality: doc.municipality ?? "", profile: profile, records: records)
    }

    static func day(_ s: String) -> ISODate { ISODate(s)! }

    func venue(_ report: MunicipalityReport, _ name: String) throws -> VenueReport {
        try #require(report.venues.first { $0.name == name }, "no venue \(name)")
    }

    func result(_ v: VenueReport, _ code: String) throws -> CriterionResult {
        try #require(v.results.first { $0.code == code }, "no result \(code)")
    }

    @Test("Karlstad's agreements before, at and after the spring-2016 renewal")
    func karlstadAgreement() throws {
        let input = try Self.fixture("1780-karlstad")
        let cases: [(String, Outcome, String)] = [
            ("2014-04-01", .notMet, "no agreement yet on 2014-04-01 (the first is signed 2014-05-01)"),
            ("2016-04-30", .met, "agreement signed 2014-05-01, valid until 2016-04-30"),
            ("2016-05-01", .met, "agreement signed 2016-05-01, valid until 2018-04-30"),
            ("2018-05-01", .notMet, "agreement expired 2018-04-30"),
        ]
        for (date, outcome, reason) in cases {
            let report = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day(date))
            let r = try result(try venue(report, "Pub Exempel"), "venue.agreement")
            #expect(r.outcome == outcome, "\(date)")
            #expect(r.reason == reason, "\(date)")
        }
    }

    @Test("Karlstad's drug tests are needed only once the renewed agreement includes them")
    func karlstadDrugTests() throws {
        let input = try Self.fixture("1780-karlstad")
        let before = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-04-15"))
        let r0 = try result(try venue(before, "Pub Exempel"), "venue.drug_tests")
        #expect(r0.outcome == .met)
        #expect(r0.reason == "not applicable: the agreement does not include drug tests")
        let after = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-12-31"))
        let r1 = try result(try venue(after, "Pub Exempel"), "venue.drug_tests")
        #expect(r1.outcome == .notMet)
        #expect(r1.reason == "the agreement includes drug tests but none in the 12 months to 2016-12-31 (none recorded)")
        let r2 = try result(try venue(after, "Låtsasloungen"), "venue.drug_tests")
        #expect(r2.outcome == .met)
        #expect(r2.reason == "drug tests on 2016-11-15")
        // Five of the eight venues had a test round in autumn 2016.
        #expect(after.venues.filter { $0.results.contains { $0.code == "venue.drug_tests" && $0.outcome == .met } }.count == 5)
    }

    @Test("Karlstad's municipality criteria at the end of 2016")
    func karlstadMunicipality() throws {
        let report = Compliance.evaluate(try Self.fixture("1780-karlstad"), criteria: .kmkDefault, asOf: Self.day("2016-12-31"))
        let byCode = Dictionary(uniqueKeysWithValues: report.results.map { ($0.code, $0) })
        #expect(byCode["municipality.reference_group"]?.outcome == .met)
        #expect(byCode["municipality.reference_group"]?.reason == "4 reference group meetings in the 12 months to 2016-12-31 (needs 2)")
        #expect(byCode["municipality.training"]?.reason == "1 training in the 12 months to 2016-12-31 (needs 1)")
        #expect(byCode["municipality.network"]?.outcome == .notMet)
        #expect(byCode["municipality.decision"]?.outcome == .unknown)
        #expect(byCode["municipality.decision"]?.reason == "political decision date not recorded")
        #expect(byCode["municipality.structure"]?.outcome == .met)
        #expect(byCode["municipality.mapping"]?.outcome == .notMet)
        #expect(report.meetsCriteria == false)
        // No rounds are recorded in Karlstad, so no venue is green.
        #expect(report.figures.memberVenues == 8)
        #expect(report.figures.compliantVenues == 0)
        #expect(report.venues.allSatisfy { $0.status == .orange })
        let round = try result(try venue(report, "Pub Exempel"), "venue.round")
        #expect(round.reason == "no krogmiljörond in the 12 months to 2016-12-31 (none recorded)")
        #expect(report.figures.trainingsThisYear == 1)
        #expect(report.figures.peopleTrainedThisYear == 8 * 12)
        #expect(report.figures.meetingsThisYear == 4)
    }

    @Test("A Karlstad venue with a day and an evening round in 2016 turns green")
    func karlstadGreen() throws {
        var input = try Self.fixture("1780-karlstad")
        let exempelkallaren = try #require(input["venue"].first { $0["name"].text == "Exempelkällaren" }).id
        input.records["round"] = [
            Record(entity: "round", id: "r1", fields: ["venue": .text(exempelkallaren), "held_on": .text("2016-06-01"), "time_of_day": .text("day")]),
            Record(entity: "round", id: "r2", fields: ["venue": .text(exempelkallaren), "held_on": .text("2016-06-02"), "time_of_day": .text("night")]),
        ]
        let report = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-12-31"))
        let v = try venue(report, "Exempelkällaren")
        #expect(v.status == .green, "\(v.results.filter { $0.outcome != .met })")
        #expect(try result(v, "venue.training").reason
            == "16 of 16 staff trained (100%); 3 of 3 door staff trained (100%); 3 of 3 key persons trained (100%) since 2013-12-31")
        #expect(report.figures.compliantVenues == 1)
        #expect(report.figures.share == 1.0 / 8.0)
        // Before the renewal the round was not yet held: orange.
        let spring = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-04-15"))
        #expect(try venue(spring, "Exempelkällaren").status == .orange)
    }

    @Test("Eskilstuna's rounds of April 2016 with actions due 2016-06-30 that stay open")
    func eskilstunaActions() throws {
        let input = try Self.fixture("0484-eskilstuna")
        let onTime = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-09-28"))
        #expect(onTime.venues.filter { $0.membership == "member" }.allSatisfy {
            $0.results.contains { $0.code == "venue.actions" && $0.outcome == .met }
        })
        #expect(try result(try venue(onTime, "Exempelbaren"), "venue.actions").reason == "2 open actions, none more than 90 days overdue")
        #expect(onTime.figures.openOverdueActions == 9)
        let late = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-09-29"))
        let r = try result(try venue(late, "Exempelbaren"), "venue.actions")
        #expect(r.outcome == .notMet)
        #expect(r.reason == "2 actions more than 90 days overdue: information due 2016-06-30, physical environment due 2016-06-30")
        #expect(try result(try venue(late, "Pub Påhittet"), "venue.actions").reason
            == "1 action more than 90 days overdue: information due 2016-06-30")
        // Before the due date nothing is overdue; actions done on 2016-06-01 still count as open in May.
        let may = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-05-15"))
        #expect(may.figures.openOverdueActions == 0)
        #expect(try result(try venue(may, "Exempelbaren"), "venue.actions").reason == "3 open actions, none more than 90 days overdue")
        // The rounds were all in the evening: no day round.
        #expect(try result(try venue(late, "Exempelbaren"), "venue.round").reason
            == "no day round in the 12 months to 2016-09-29 (rounds: 2016-04-11 evening)")
    }

    @Test("Eskilstuna's staff training shares at the end of 2016")
    func eskilstunaTraining() throws {
        let report = Compliance.evaluate(try Self.fixture("0484-eskilstuna"), criteria: .kmkDefault, asOf: Self.day("2016-12-31"))
        let pub = try result(try venue(report, "Pub Påhittet"), "venue.training")
        #expect(pub.outcome == .notMet)
        #expect(pub.reason == "10 of 16 staff trained (63%, needs 80%); 2 of 2 door staff trained (100%); "
            + "2 of 3 key persons trained (67%, needs 100%) since 2013-12-31")
        #expect(try result(try venue(report, "Nattklubb Låtsas"), "venue.training").outcome == .met)
        let applicant = try venue(report, "Kvarterskrogen Tänkt")
        #expect(applicant.status == .notTakingPart)
        #expect(try result(applicant, "venue.training").outcome == .unknown)
        #expect(report.figures.memberVenues == 7)
    }

    @Test("Unknown is never met; orphans are listed, not counted")
    func unknownAndOrphans() throws {
        var input = try Self.fixture("0484-eskilstuna")
        input.records["agreement"] = [Record(entity: "agreement", id: "a-orphan", fields: [
            "venue": .text("00000000-0000-4000-8000-00000000dead"), "signed_on": .text("2016-01-01"),
        ])]
        let report = Compliance.evaluate(input, criteria: .kmkDefault, asOf: Self.day("2016-12-31"))
        #expect(report.orphans.contains(OrphanRecord(entity: "agreement", id: "a-orphan", missing: "venue 00000000-0000-4000-8000-00000000dead")))
        #expect(report.venues.allSatisfy { try! result($0, "venue.agreement").outcome == .notMet })
        let applicant = try venue(report, "Kvarterskrogen Tänkt")
        #expect(applicant.results.contains { $0.outcome == .unknown && $0.mandatory })
        #expect(applicant.status != .green)
    }

    @Test("Criteria are data: a criteria set read from records, chosen by validity, with changed thresholds")
    func criteriaAsData() throws {
        let base = CriteriaSet.kmkDefault
        var records = [Record(entity: "criteria_set", id: base.id, fields: base.fields)]
        records += base.criteria.map { Record(entity: "criterion", id: $0.id, fields: $0.fields(setID: base.id)) }
        var v2 = base
        v2.id = "6b6d6b00-0000-4000-8000-0000000000f2"
        v2.version = 2
        v2.validFrom = Self.day("2017-01-01")
        v2.criteria = base.criteria.map { c in
            var c = c
            c.id = "f2" + c.id.dropFirst(2)
            if c.code == "venue.training" { c.params = RuleParams(["months": .number(36), "staff_share": .number(0.5)]) }
            return c
        }
        records.append(Record(entity: "criteria_set", id: v2.id, fields: v2.fields))
        records += v2.criteria.map { Record(entity: "criterion", id: $0.id, fields: $0.fields(setID: v2.id)) }
        let (sets, problems) = CriteriaSet.read(sets: records.filter { $0.entity == "criteria_set" },
                                               criteria: records.filter { $0.entity == "criterion" })
        #expect(problems.isEmpty)
        #expect(sets.count == 2)
        #expect(CriteriaSet.applying(on: Self.day("2016-12-31"), from: sets)?.version == 1)
        #expect(CriteriaSet.applying(on: Self.day("2017-06-01"), from: sets)?.version == 2)
        let input = try Self.fixture("0484-eskilstuna")
        let old = Compliance.report(input, sets: sets, asOf: Self.day("2016-12-31"))
        let new = Compliance.report(input, sets: sets, asOf: Self.day("2017-06-01"))
        #expect(try result(try venue(old, "Pub Påhittet"), "venue.training").outcome == .notMet)
        #expect(try result(try venue(new, "Pub Påhittet"), "venue.training").outcome == .met)
        #expect(new.criteria.version == 2 && !new.criteria.builtIn)
        let none = Compliance.report(input, sets: [], asOf: Self.day("2016-12-31"))
        #expect(none.criteria.builtIn)
    }

    @Test("A bad criterion is reported, and an unknown rule kind is judged unknown")
    func badCriteria() throws {
        let set = Record(entity: "criteria_set", id: "s", fields: ["name": .text("x"), "version": .integer(1), "valid_from": .text("2000-01-01")])
        let bad = Record(entity: "criterion", id: "c1", fields: ["criteria_set": .text("s"), "code": .text("venue.x"), "scope": .text("venue"),
                                                            "rule": .text("x"), "params": .text("[1"), "text_sv": .text("x"), "text_en": .text("x")])
        let future = Record(entity: "criterion", id: "c2", fields: ["criteria_set": .text("s"), "code": .text("venue.y"), "scope": .text("venue"),
                                                               "rule": .text("teleport"), "text_sv": .text("y"), "text_en": .text("y")])
        let (sets, problems) = CriteriaSet.read(sets: [set], criteria: [bad, future])
        #expect(problems.count == 1 && problems[0].contains("params is not valid JSON"))
        let report = Compliance.evaluate(try Self.fixture("0880-kalmar"), criteria: try #require(sets.first), asOf: Self.day("2024-01-01"))
        #expect(report.venues.allSatisfy { $0.results.map(\.outcome) == [.unknown] && $0.status == .orange })
    }

    @Test("National figures are the sums of the municipalities' own")
    func nationalSums() throws {
        let inputs = try ["0484-eskilstuna", "0880-kalmar", "1283-helsingborg", "1780-karlstad"].map(Self.fixture)
        let day = Self.day("2024-06-30")
        let reports = inputs.map { Compliance.report($0, sets: [], asOf: day, trendFrom: 2004) }
        let national = NationalReport(asOf: day, criteria: reports[0].criteria, reports: reports)
        #expect(national.totals.memberVenues == 7 + 5 + 10 + 8)
        #expect(national.totals.compliantVenues == reports.map(\.figures.compliantVenues).reduce(0, +))
        #expect(national.totals.trainingsThisYear == 1)  // Helsingborg 2024-03-05
        #expect(national.trend.count == 2024 - 2004 + 1)
        #expect(national.trend.last?.memberVenues == 30)
        // Members by their joining dates: Kalmar 2004, Karlstad 2006, Helsingborg 2007, Eskilstuna 2016.
        #expect(national.trend.map(\.memberVenues)[0...3] == [5, 5, 13, 23])
        #expect(national.trend.first { $0.year == 2015 }?.memberVenues == 23)
        #expect(national.trend.first { $0.year == 2016 }?.memberVenues == 30)
        let json = ComplianceJSON.encode(national)
        #expect(try ComplianceJSON.decode(NationalReport.self, from: json) == national)
        #expect(json.contains("\"member_venues\":30"))
    }
}
