extension CriteriaSet {
    /// The default criteria shipped with kmk-sync (SPEC.md §12.3), derived from the network's
    /// criteria for venues and municipalities. A replica uses it when no criteria set from the
    /// styrgrupp applies on the report date; the styrgrupp publishes it as data with
    /// `kmk-sync criteria publish-default` and then changes thresholds without a new release.
    ///
    /// Ids are fixed, so every replica that publishes or reads the default agrees on them.
    public static let kmkDefault = CriteriaSet(
        id: "6b6d6b00-0000-4000-8000-000000000001", name: "KMK-kriterier (standard)", version: 1,
        validFrom: ISODate(year: 2000, month: 1, day: 1)!,
        criteria: [
            c(1, "venue.member", .venue, "membership", [:],
              "Krogen är medlem i Krogar mot knark.", "The venue is a member of KMK."),
            c(2, "venue.agreement", .venue, "agreement_valid", [:],
              "Krogen har ett undertecknat avtal med polis och kommun som gäller på rapportdagen.",
              "The venue has a signed agreement with police and municipality, valid on the report date."),
            c(3, "venue.policy", .venue, "fields_true", ["fields": .strings(["has_drug_policy", "has_action_plan"])],
              "Krogen har en skriftlig drogpolicy och en handlingsplan kopplad till den.",
              "The venue has a written drug policy and an action plan tied to it."),
            c(4, "venue.training", .venue, "staff_trained",
              ["months": .number(36), "staff_share": .number(0.8), "door_share": .number(1.0), "key_share": .number(1.0)],
              "Minst 80 % av personalen, alla ordningsvakter och alla nyckelpersoner har gått KMK-utbildningen de senaste 36 månaderna.",
              "At least 80% of staff, all door staff and all key persons trained within the last 36 months."),
            c(5, "venue.round", .venue, "round_recent", ["months": .number(12), "day_and_night": .bool(true)],
              "Krogmiljörond de senaste 12 månaderna, en dagtid och en kväll eller natt.",
              "An environment round (krogmiljörond) within the last 12 months, one by day and one in the evening or at night."),
            c(6, "venue.actions", .venue, "no_overdue_actions", ["days": .number(90)],
              "Ingen åtgärd från en krogmiljörond är mer än 90 dagar försenad.",
              "No action from a round is more than 90 days overdue."),
            c(7, "venue.signage", .venue, "fields_true", ["fields": .strings(["shows_signage"])],
              "Krogen visar KMK-skylten.", "The venue shows the KMK sign."),
            c(8, "venue.drug_tests", .venue, "drug_tests_if_agreed", ["months": .number(12)],
              "Om avtalet omfattar drogtester: minst en testomgång de senaste 12 månaderna.",
              "Where the agreement includes drug tests, at least one drug-test round in the last 12 months."),
            c(9, "venue.network", .venue, "meetings_attended", ["months": .number(12), "min": .number(1)],
              "Krogen deltar i lokala nätverksträffar (minst en de senaste 12 månaderna).",
              "The venue takes part in local network meetings (at least one in the last 12 months).", mandatory: false),
            c(10, "venue.self_inspection", .venue, "date_within", ["field": .string("self_inspection_on"), "months": .number(12)],
              "Krogen har gjort egenkontroll av lokalerna de senaste 12 månaderna.",
              "The venue inspected its own premises within the last 12 months.", mandatory: false),
            c(11, "municipality.training", .municipality, "count_within",
              ["entity": .string("training"), "date_field": .string("held_on"), "months": .number(12), "min": .number(1)],
              "Kommunen erbjuder KMK-utbildning minst en gång om året.", "At least one KMK training a year."),
            c(12, "municipality.reference_group", .municipality, "count_within",
              ["entity": .string("meeting"), "date_field": .string("held_on"), "months": .number(12), "min": .number(2),
               "kind": .string("reference_group")],
              "Referensgruppen träffas minst två gånger om året.", "The reference group met at least twice a year."),
            c(13, "municipality.network", .municipality, "count_within",
              ["entity": .string("meeting"), "date_field": .string("held_on"), "months": .number(12), "min": .number(1),
               "kind": .string("network")],
              "Minst en nätverksträff om året.", "At least one network meeting a year."),
            c(14, "municipality.compliant_share", .municipality, "compliant_share", ["min_share": .number(0.5)],
              "Minst hälften av medlemskrogarna uppfyller alla kriterier.",
              "At least half of the member venues meet all criteria.", mandatory: false),
            c(15, "municipality.decision", .municipality, "fields_present", ["fields": .strings(["political_decision_on"])],
              "Kommunledningen har beslutat att delta (beslut och datum).",
              "The municipal leadership decided to take part (decision and date recorded)."),
            c(16, "municipality.structure", .municipality, "fields_true",
              ["fields": .strings(["has_steering_group", "licensing_stance_public"])],
              "Det finns en styr- eller arbetsgrupp med branschen och myndigheterna, och tillståndsenheten tar offentligt ställning.",
              "A steering or working group with the trade and authorities exists, and the licensing unit takes a public stance."),
            c(17, "municipality.mapping", .municipality, "count_within",
              ["entity": .string("mapping"), "date_field": .string("done_on"), "months": .number(36), "min": .number(1)],
              "En kartläggning av narkotikasituationen på krogarna de senaste 36 månaderna.",
              "A mapping of the drug situation in the venues within the last 36 months."),
            c(18, "municipality.coordinator", .municipality, "fields_true", ["fields": .strings(["has_coordinator"])],
              "Det finns en namngiven projektledare eller samordnare.", "A named project leader or coordinator exists.",
              mandatory: false),
        ])

    private static func c(_ n: Int, _ code: String, _ scope: Criterion.Scope, _ rule: String, _ params: [String: RuleParams.Item],
                          _ sv: String, _ en: String, mandatory: Bool = true) -> Criterion {
        let suffix = String(n + 100)
        return Criterion(id: "6b6d6b00-0000-4000-8000-000000000" + suffix, code: code, scope: scope, rule: rule,
                  params: RuleParams(params), textSV: sv, textEN: en, mandatory: mandatory)
    }
}
