import Foundation

/// Request counts, latencies and changes applied, written in the Prometheus text format
/// (`GET /metrics`).
actor HubMetrics {
    private struct Key: Hashable { var method: String; var route: String; var status: Int }
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private var requests: [Key: Int] = [:]
    private var latency: [String: (counts: [Int], sum: Double, count: Int)] = [:]
    private var changesApplied = 0
    private var changesReceived = 0
    private var batches = 0
    private var duplicates = 0

    func request(method: String, route: String, status: Int, seconds: Double) {
        requests[Key(method: method, route: route, status: status), default: 0] += 1
        var l = latency[route] ?? (Array(repeating: 0, count: HubMetrics.buckets.count), 0, 0)
        for (i, b) in HubMetrics.buckets.enumerated() where seconds <= b { l.counts[i] += 1 }
        l.sum += seconds
        l.count += 1
        latency[route] = l
    }

    func push(received: Int, applied: Int, duplicate: Bool) {
        changesReceived += received
        changesApplied += applied
        batches += 1
        if duplicate { duplicates += 1 }
    }

    func text() -> String {
        var out = "# HELP kmk_hub_requests_total HTTP requests by method, route and status.\n# TYPE kmk_hub_requests_total counter\n"
        for (k, n) in requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "kmk_hub_requests_total{method=\"\(k.method)\",route=\"\(k.route)\",status=\"\(k.status)\"} \(n)\n"
        }
        out += "# HELP kmk_hub_request_duration_seconds Request latency by route.\n# TYPE kmk_hub_request_duration_seconds histogram\n"
        for (route, l) in latency.sorted(by: { $0.key < $1.key }) {
            for (i, b) in HubMetrics.buckets.enumerated() {
                out += "kmk_hub_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(b)\"} \(l.counts[i])\n"
            }
            out += "kmk_hub_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(l.count)\n"
            out += "kmk_hub_request_duration_seconds_sum{route=\"\(route)\"} \(l.sum)\n"
            out += "kmk_hub_request_duration_seconds_count{route=\"\(route)\"} \(l.count)\n"
        }
        out += "# HELP kmk_hub_changes_received_total Changes received in push batches.\n# TYPE kmk_hub_changes_received_total counter\n"
        out += "kmk_hub_changes_received_total \(changesReceived)\n"
        out += "# HELP kmk_hub_changes_applied_total Changes that won the merge and were written.\n"
        out += "# TYPE kmk_hub_changes_applied_total counter\nkmk_hub_changes_applied_total \(changesApplied)\n"
        out += "# HELP kmk_hub_push_batches_total Push batches accepted.\n# TYPE kmk_hub_push_batches_total counter\n"
        out += "kmk_hub_push_batches_total \(batches)\n"
        out += "# HELP kmk_hub_push_duplicates_total Push batches acknowledged as duplicates.\n"
        out += "# TYPE kmk_hub_push_duplicates_total counter\nkmk_hub_push_duplicates_total \(duplicates)\n"
        return out
    }
}
