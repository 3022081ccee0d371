/// The whole KMK data model: every entity and field, described once.
///
/// Entity and field numbers are part of the replica file format and of the change log: they are
/// never renumbered or reused. A new field gets a new number and a new ``version``.
public struct Schema: Sendable {
    /// The schema version written into replica files, bundles and wire messages.
    public let version: Int
    /// All entities, in a fixed order.
    public let entities: [EntitySpec]

    /// The entity with this name, if any.
    public func entity(_ name: String) -> EntitySpec? {
        entities.first { $0.name == name }
    }

    /// The entity with this number, if any.
    public func entity(number: Int) -> EntitySpec? {
        entities.first { $0.number == number }
    }

    /// The entity names, for error messages.
    public var entityNames: [String] { entities.map(\.name) }
}

extension Schema {
    /// The schema this build of kmk-sync reads and writes.
    public static let current = Schema(version: 1, entities: [
        .municipality, .venue, .training, .trainingVenue, .round, .action, .agreement, .drugTest,
        .meeting, .meetingVenue, .campaign, .indicator, .mapping, .policeContact, .criteriaSet, .criterion,
    ])
}

private let shortText = FieldKind.text(maxLength: 200)
private let longText = FieldKind.text(maxLength: 10_000)
private let count = FieldKind.integer(min: 0, max: 1_000_000)

extension EntitySpec {
    /// The municipality's own KMK profile: one record, whose id is the kommunkod.
    public static let municipality = EntitySpec(
        "municipality", 1, identity: .municipalityCode, title: "name",
        "The municipality's KMK profile; its id is the kommunkod.",
        fields: [
            FieldSpec("name", 1, shortText, required: true, aliases: ["namn", "kommun"], "Municipality name"),
            FieldSpec("responsible_unit", 2, shortText, aliases: ["ansvarig_enhet"],
                      "Unit that runs KMK, e.g. tillståndsenheten, brottsförebyggande rådet, KROG-projektet"),
            FieldSpec("kmk_start_year", 3, .integer(min: 1990, max: 2100), aliases: ["startår"],
                      "Year the municipality started KMK"),
            FieldSpec("political_decision_on", 4, .date, "Date the municipal leadership decided to take part"),
            FieldSpec("political_body", 5, shortText, "Body that took the decision, e.g. kommunstyrelsen"),
            FieldSpec("has_steering_group", 6, .bool,
                      "A steering or working group with the trade and the authorities exists"),
            FieldSpec("licensing_stance_public", 7, .bool,
                      "The licensing unit states publicly that it values venues working against drugs"),
            FieldSpec("has_coordinator", 8, .bool, "A named project leader or coordinator exists"),
            FieldSpec("coordinator_name", 9, shortText, localOnly: true, "Coordinator's name (personal data)"),
            FieldSpec("coordinator_email", 10, shortText, localOnly: true, "Coordinator's e-mail (personal data)"),
            FieldSpec("coordinator_phone", 11, shortText, localOnly: true, "Coordinator's phone (personal data)"),
            FieldSpec("notes", 12, longText, localOnly: true, "Free notes (may name people; stays local)"),
        ])

    /// A venue (krog) taking part in, applying to, or having left KMK.
    public static let venue = EntitySpec(
        "venue", 2, title: "name", "A venue (krog).",
        fields: [
            FieldSpec("name", 1, shortText, required: true, aliases: ["namn", "krog"], "Venue name"),
            FieldSpec("address", 2, shortText, aliases: ["adress"], "Street address"),
            FieldSpec("org_number", 3, .orgNumber, aliases: ["organisationsnummer", "orgnr"],
                      "Organisation number of the company running the venue"),
            FieldSpec("licence_ref", 4, shortText, aliases: ["tillstånd", "serveringstillstånd"],
                      "Alcohol licence reference (serveringstillstånd)"),
            FieldSpec("membership", 5, .choice(["applicant", "member", "left"]), required: true,
                      aliases: ["medlemskap", "status"], "KMK membership status"),
            FieldSpec("joined_on", 6, .date, aliases: ["ansluten"], "Date the venue became a member"),
            FieldSpec("left_on", 7, .date, aliases: ["lämnade"], "Date the venue left KMK"),
            FieldSpec("has_drug_policy", 8, .bool, aliases: ["drogpolicy"], "Has a written drug policy"),
            FieldSpec("has_action_plan", 9, .bool, aliases: ["handlingsplan"],
                      "Has an action plan tied to the drug policy"),
            FieldSpec("shows_signage", 10, .bool, aliases: ["skylt"], "Shows the KMK sign or plaque"),
            FieldSpec("staff_count", 11, count, aliases: ["personal"], "Number of staff"),
            FieldSpec("door_staff_count", 12, count, aliases: ["ordningsvakter"],
                      "Number of door staff (ordningsvakter)"),
            FieldSpec("key_staff_count", 13, count, aliases: ["nyckelpersoner"],
                      "Number of key persons: managers and those responsible on shift"),
            FieldSpec("self_inspection_on", 14, .date, aliases: ["egenkontroll"],
                      "Date of the venue's latest self-inspection of its premises"),
            FieldSpec("contact_person", 15, shortText, localOnly: true, aliases: ["kontaktperson"],
                      "Contact person (personal data)"),
            FieldSpec("contact_phone", 16, shortText, localOnly: true, aliases: ["telefon"],
                      "Contact phone (personal data)"),
            FieldSpec("contact_email", 17, shortText, localOnly: true, aliases: ["e-post", "epost"],
                      "Contact e-mail (personal data)"),
            FieldSpec("notes", 18, longText, localOnly: true, aliases: ["anteckningar"],
                      "Free notes (may name people; stays local)"),
        ])

    /// A KMK training session (utbildning).
    public static let training = EntitySpec(
        "training", 3, title: "held_on", "A KMK training session (utbildning).",
        fields: [
            FieldSpec("held_on", 1, .date, required: true, "Date of the training"),
            FieldSpec("place", 2, shortText, "Where it was held"),
            FieldSpec("organiser", 3, .choice(["police", "municipality", "both"]), required: true,
                      "Who organised it"),
            FieldSpec("title", 4, shortText, "Title, e.g. KMK-utbildning steg 1"),
            FieldSpec("notes", 5, longText, localOnly: true, "Free notes (stays local)"),
        ])

    /// How many of one venue's staff took part in one training.
    public static let trainingVenue = EntitySpec(
        "training_venue", 4, title: "venue", "Staff of one venue trained at one training.",
        fields: [
            FieldSpec("training", 1, .reference("training"), required: true, "The training"),
            FieldSpec("venue", 2, .reference("venue"), required: true, "The venue"),
            FieldSpec("staff_trained", 3, count, "Staff trained (all roles)"),
            FieldSpec("door_staff_trained", 4, count, "Door staff (ordningsvakter) trained"),
            FieldSpec("key_staff_trained", 5, count, "Key persons (managers, shift leaders) trained"),
        ])

    /// An environment round (krogmiljörond) at a venue.
    public static let round = EntitySpec(
        "round", 5, title: "held_on", "An environment round (krogmiljörond) at a venue.",
        fields: [
            FieldSpec("venue", 1, .reference("venue"), required: true, "The venue walked"),
            FieldSpec("held_on", 2, .date, required: true, "Date of the round"),
            FieldSpec("time_of_day", 3, .choice(["day", "evening", "night"]),
                      "Day, or evening/night while open: the criteria ask for both"),
            FieldSpec("participants", 4, .set(["police", "municipality", "venue"]), "Who took part"),
            FieldSpec("checklist", 5, shortText, "Checklist used, e.g. the national standard checklist"),
            FieldSpec("findings", 6, longText, "What the round found about the premises"),
            FieldSpec("notes", 7, longText, localOnly: true, "Free notes (may name people; stays local)"),
        ])

    /// An action (åtgärd) decided at a round, followed up until done or dropped.
    public static let action = EntitySpec(
        "action", 6, title: "category", "An action (åtgärd) from a round.",
        fields: [
            FieldSpec("round", 1, .reference("round"), required: true, "The round it came from"),
            FieldSpec("category", 2, .choice(["information", "staff_policy", "physical_environment", "other"]),
                      required: true, "What kind of action"),
            FieldSpec("description", 3, longText, "What is to be done"),
            FieldSpec("due_on", 4, .date, "When it is due"),
            FieldSpec("status", 5, .choice(["open", "done", "dropped"]), required: true, "Follow-up status"),
            FieldSpec("done_on", 6, .date, "When it was done or dropped"),
        ])

    /// The agreement (avtal) between a venue, the police and the municipality.
    public static let agreement = EntitySpec(
        "agreement", 7, title: "signed_on", "An agreement (avtal) between venue, police and municipality.",
        fields: [
            FieldSpec("venue", 1, .reference("venue"), required: true, "The venue"),
            FieldSpec("signed_on", 2, .date, required: true, "Date signed"),
            FieldSpec("valid_until", 3, .date, "Last day it is valid"),
            FieldSpec("includes_drug_tests", 4, .bool, "Includes random drug tests of staff"),
            FieldSpec("parties", 5, .set(["police", "municipality", "venue"]), "Who signed"),
            FieldSpec("document_ref", 6, shortText, "Reference to the signed document (diarienummer)"),
        ])

    /// A round of random drug tests of a venue's staff.
    public static let drugTest = EntitySpec(
        "drug_test", 8, title: "tested_on", "A round of random drug tests of staff.",
        fields: [
            FieldSpec("venue", 1, .reference("venue"), required: true, "The venue"),
            FieldSpec("tested_on", 2, .date, required: true, "Date of the tests"),
            FieldSpec("tested", 3, count, required: true, "Number of staff tested"),
            FieldSpec("positive", 4, count, "Number of positive tests"),
        ])

    /// A reference group, network or steering group meeting.
    public static let meeting = EntitySpec(
        "meeting", 9, title: "held_on", "A reference group, network or steering group meeting.",
        fields: [
            FieldSpec("kind", 1, .choice(["reference_group", "network", "steering_group"]), required: true,
                      "What kind of meeting"),
            FieldSpec("held_on", 2, .date, required: true, "Date of the meeting"),
            FieldSpec("venues_represented", 3, count, "Number of venues represented"),
            FieldSpec("notes", 4, longText, localOnly: true, "Minutes or notes (may name people; stays local)"),
        ])

    /// One venue's attendance at one meeting.
    public static let meetingVenue = EntitySpec(
        "meeting_venue", 10, title: "venue", "A venue that attended a meeting.",
        fields: [
            FieldSpec("meeting", 1, .reference("meeting"), required: true, "The meeting"),
            FieldSpec("venue", 2, .reference("venue"), required: true, "The venue that attended"),
        ])

    /// A campaign (kampanj).
    public static let campaign = EntitySpec(
        "campaign", 11, title: "name", "A campaign.",
        fields: [
            FieldSpec("name", 1, shortText, required: true, "Campaign name"),
            FieldSpec("starts_on", 2, .date, "First day"),
            FieldSpec("ends_on", 3, .date, "Last day"),
            FieldSpec("channels", 4,
                      .set(["billboards", "buses", "film", "other", "press", "print", "social_media", "web"]),
                      "Channels used"),
            FieldSpec("description", 5, longText, "What the campaign says and to whom"),
        ])

    /// One value of an indicator series, e.g. a yearly wastewater drug level.
    public static let indicator = EntitySpec(
        "indicator", 12, title: "name", "One value of an indicator series.",
        fields: [
            FieldSpec("name", 1, shortText, required: true, "Series name, e.g. wastewater drug residues"),
            FieldSpec("substance", 2, shortText, "Substance, e.g. cocaine, amphetamine, THC"),
            FieldSpec("period", 3, .period, required: true, "Period the value covers"),
            FieldSpec("value", 4, .real, required: true, "The value"),
            FieldSpec("unit", 5, shortText, "Unit, e.g. mg/day/1000 inhabitants"),
            FieldSpec("source", 6, shortText, "Where the value comes from"),
        ])

    /// A mapping (kartläggning) of the drug situation in the municipality's venues.
    public static let mapping = EntitySpec(
        "mapping", 13, title: "done_on", "A mapping (kartläggning) of the drug situation in venues.",
        fields: [
            FieldSpec("done_on", 1, .date, required: true, "When it was done"),
            FieldSpec("method", 2, shortText, "Method, e.g. staff survey, police data"),
            FieldSpec("summary", 3, longText, "What it found"),
        ])

    /// A venue's contact with the police: about a drug problem, or consulting them on a renovation.
    public static let policeContact = EntitySpec(
        "police_contact", 14, title: "contacted_on", "A venue's contact with the police.",
        fields: [
            FieldSpec("venue", 1, .reference("venue"), required: true, "The venue"),
            FieldSpec("contacted_on", 2, .date, required: true, "Date of the contact"),
            FieldSpec("reason", 3, .choice(["drug_problem", "renovation", "other"]), required: true,
                      "Why the venue contacted the police"),
            FieldSpec("police_report", 4, .bool, "A police report was filed"),
            FieldSpec("notes", 5, longText, localOnly: true, "Free notes (may name people; stays local)"),
        ])

    /// A version of the national criteria, owned by the styrgrupp.
    public static let criteriaSet = EntitySpec(
        "criteria_set", 15, scope: .national, title: "name", "A version of the national KMK criteria.",
        fields: [
            FieldSpec("name", 1, shortText, required: true, "Name, e.g. KMK-kriterier 2024"),
            FieldSpec("version", 2, .integer(min: 1, max: 1_000_000), required: true, "Version number"),
            FieldSpec("valid_from", 3, .date, required: true, "First day the set applies"),
            FieldSpec("valid_until", 4, .date, "Last day the set applies (open if empty)"),
        ])

    /// One criterion of a criteria set.
    public static let criterion = EntitySpec(
        "criterion", 16, scope: .national, title: "code", "One national criterion for venues or municipalities.",
        fields: [
            FieldSpec("criteria_set", 1, .reference("criteria_set"), required: true, "The set it belongs to"),
            FieldSpec("code", 2, shortText, required: true, "Short code, e.g. venue.agreement"),
            FieldSpec("scope", 3, .choice(["venue", "municipality"]), required: true, "What it judges"),
            FieldSpec("rule", 4, shortText, required: true, "Rule kind, see SPEC.md"),
            FieldSpec("params", 5, .text(maxLength: 2_000), "Rule parameters as a JSON object"),
            FieldSpec("text_sv", 6, longText, required: true, "The criterion in Swedish"),
            FieldSpec("text_en", 7, longText, required: true, "The criterion in English"),
            FieldSpec("mandatory", 8, .bool, "Must be met (otherwise recommended)"),
        ])
}
