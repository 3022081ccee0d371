import Foundation
import KMKModel
import Testing

@Suite("Field values: trimming")
struct FieldTrimmingTests {
    /// `parse` skips Foundation's trimming for values that start and end with an ASCII non-blank;
    /// every other value must still be trimmed as `.whitespaces` says (tabs, no-break and
    /// ideographic spaces included), so the result equals parsing the Foundation-trimmed text.
    @Test("values are trimmed of spaces, tabs and Unicode blanks exactly as Foundation trims them")
    func trimming() throws {
        let fields = [EntitySpec.venue.field("membership")!, EntitySpec.training.field("held_on")!,
                      EntitySpec.round.field("participants")!]
        let words = ["member", "2016-02-29", "venue,police"]
        let blanks = ["", " ", "\t", "  \t", "\u{00A0}", "\u{3000}", "\u{2009}", "\n"]
        for (f, word) in zip(fields, words) {
            for lead in blanks {
                for trail in blanks {
                    let input = lead + word + trail
                    let trimmed = input.trimmingCharacters(in: .whitespaces)
                    let viaFoundation = try? f.parse(trimmed)
                    let parsed = try? f.parse(input)
                    #expect(parsed == viaFoundation, "\(f.name): \(input.debugDescription)")
                    // A value that trimming leaves as it is parses (these words are valid).
                    if trimmed == word { #expect(parsed != nil, "\(f.name): \(input.debugDescription)") }
                }
            }
        }
        #expect(try EntitySpec.venue.field("membership")!.parse(" \t ") == .null)
        #expect(try EntitySpec.venue.field("membership")!.parse("") == .null)
    }
}
