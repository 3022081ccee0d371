import KMKModel
import Testing

@Suite("Field values")
struct ValueParsingTests {
    let venue = EntitySpec.venue

    @Test("dates must be real calendar dates in ISO form")
    func dates() throws {
        let f = EntitySpec.training.field("held_on")!
        #expect(try f.parse("2016-02-29") == .text("2016-02-29"))
        for bad in ["2015-02-29", "2016-02-30", "2016-13-01", "16-02-01", "2016/02/01", "2016-2-1"] {
            #expect(throws: ModelError.self, "\(bad)") { try f.parse(bad) }
        }
        #expect(ISODate("2016-04-30")!.adding(days: 1).description == "2016-05-01")
        #expect(ISODate("2016-02-29")!.adding(months: 12).description == "2017-02-28")
        #expect(ISODate(daysSinceEpoch: ISODate("1999-12-31")!.daysSinceEpoch).description == "1999-12-31")
    }

    @Test("choices and sets name the allowed words")
    func choices() throws {
        let membership = venue.field("membership")!
        do {
            _ = try membership.parse("medlem")
            Issue.record("should fail")
        } catch {
            #expect(error.message.contains("membership") && error.message.contains("applicant, member, left"))
        }
        let participants = EntitySpec.round.field("participants")!
        #expect(try participants.parse("venue, police,police") == .text("police,venue"))
        #expect(throws: ModelError.self) { try participants.parse("police, fire brigade") }
    }

    @Test("booleans, numbers, periods, organisation numbers")
    func others() throws {
        let policy = venue.field("has_drug_policy")!
        #expect(try policy.parse("ja") == .integer(1))
        #expect(try policy.parse("Nej") == .integer(0))
        #expect(try policy.parse("") == .null)
        #expect(throws: ModelError.self) { try policy.parse("kanske") }
        #expect(try venue.field("staff_count")!.parse("12") == .integer(12))
        #expect(throws: ModelError.self) { try venue.field("staff_count")!.parse("-1") }
        #expect(try EntitySpec.indicator.field("value")!.parse("12,5") == .real(12.5))
        let period = EntitySpec.indicator.field("period")!
        for ok in ["2024", "2024-03", "2024-Q4"] { #expect(try period.parse(ok) == .text(ok)) }
        for bad in ["2024-13", "2024-Q5", "24", "2024-1"] { #expect(throws: ModelError.self) { try period.parse(bad) } }
        let org = venue.field("org_number")!
        #expect(try org.parse("5560360793") == .text("556036-0793"))
        #expect(throws: ModelError.self) { try org.parse("556036-0794") }
    }

    @Test("check refuses a value of the wrong type or outside the rules")
    func check() throws {
        #expect(try venue.field("staff_count")!.check(.integer(3)) == .integer(3))
        #expect(throws: ModelError.self) { try venue.field("staff_count")!.check(.text("3")) }
        #expect(throws: ModelError.self) { try venue.field("membership")!.check(.text("medlem")) }
        #expect(try EntitySpec.indicator.field("value")!.check(.integer(2)) == .real(2))
    }

    @Test("check takes a text value exactly when parsing gives it back unchanged (its fast paths agree with parse)")
    func checkAgreesWithParse() throws {
        let samples = ["2016-02-29", "2015-02-29", " 2016-02-29", "2016-2-1", "member", "Member", " member", "medlem",
                       "3f1c2d4e-0000-4000-8000-00000000abcd", "3F1C2D4E-0000-4000-8000-00000000ABCD", "0484", "484",
                       "2024", "2024-03", "2024-Q4", "2024-13", " 2024", "556036-0793", "5560360793", "556036-0794",
                       "16556036-0793", "", " ", "x"]
        var checked = 0
        for e in Schema.current.entities {
            for f in e.fields {
                switch f.kind {
                case .date, .choice, .set, .reference, .period, .orgNumber: break
                default: continue
                }
                var words: [String] = []
                if case .choice(let w) = f.kind { words = w }
                if case .set(let w) = f.kind { words = w + [w.reversed().joined(separator: ","), w.joined(separator: ", ")] }
                for s in samples + words + words.map { " " + $0 } {
                    let expected = (try? f.parse(s)) == .text(s)
                    let result = try? f.check(.text(s))
                    #expect((result != nil) == expected, "\(e.name).\(f.name): '\(s)'")
                    if let result { #expect(result == .text(s)) }
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
    }

    @Test("municipalities by code or name, with suggestions")
    func municipalities() throws {
        #expect(Municipality.all.count == 290)
        #expect(try Municipality.find("0484").name == "Eskilstuna")
        #expect(try Municipality.find("karlstad").code == "1780")
        #expect(try Municipality.find("Malmö").code == "1280")
        do {
            _ = try Municipality.find("Eskilstun")
            Issue.record("should fail")
        } catch {
            #expect(error.message.contains("Eskilstuna (0484)"))
        }
    }
}
