import Foundation
import HTTPTypes
import Hummingbird
import KMKModel
import KMKSync
import NIOCore

/// The dashboard's routes (SPEC.md §12.5): a styrgrupp token signs in through a form (kept in an
/// HttpOnly cookie) or, when the hub listens on loopback only, with `?token=`.
extension HubRoutes {
    static let cookieName = "kmk_token"

    func registerDashboard(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try await dashboardHome(request) }
        router.get("/municipality/:code") { request, context in
            try await dashboardMunicipality(request, code: context.parameters.get("code") ?? "")
        }
        router.post("/login") { request, _ in try await login(request) }
        router.get("/logout") { _, _ in
            redirect("/", cookie: "\(HubRoutes.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        }
    }

    func html(_ status: HTTPResponse.Status, _ text: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func redirect(_ location: String, cookie: String? = nil) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    static func cookie(for token: String) -> String {
        "\(cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
    }

    /// The hub listens on loopback only, so a token in the URL never crosses a network.
    var loopbackOnly: Bool { ["127.0.0.1", "::1", "localhost"].contains(configuration.host) }

    /// The signed-in styrgrupp, or the page to answer instead.
    func dashboardUser(_ request: Request) async throws -> (ok: Bool, cookie: String?, page: Response?) {
        var token: String?
        var setCookie: String?
        if let t = request.uri.queryParameters["token"].map(String.init), !t.isEmpty {
            guard loopbackOnly else {
                return (false, nil, html(.badRequest, Dashboard.login("a token in the URL is accepted only when the hub listens on "
                    + "loopback; sign in with the form")))
            }
            token = t.removingPercentEncoding ?? t
            setCookie = HubRoutes.cookie(for: token!)
        } else if let header = request.headers[.cookie] {
            for part in header.split(separator: ";") {
                let kv = part.trimmingCharacters(in: .whitespaces)
                if kv.hasPrefix(HubRoutes.cookieName + "=") { token = String(kv.dropFirst(HubRoutes.cookieName.count + 1)) }
            }
        }
        guard let token, !token.isEmpty else { return (false, nil, html(.unauthorized, Dashboard.login(nil))) }
        guard let scope = try await service.authenticate(token) else {
            return (false, nil, html(.unauthorized, Dashboard.login("that token is wrong or revoked")))
        }
        guard scope == .styrgrupp else {
            return (false, nil, html(.forbidden, Dashboard.login("the dashboard is for the styrgrupp; a token for \(scope) "
                + "reads its own report with kmk-sync report compliance")))
        }
        return (true, setCookie, nil)
    }

    func dashboardHome(_ request: Request) async throws -> Response {
        let user = try await dashboardUser(request)
        if let page = user.page { return page }
        let day: ISODate
        do { day = try reportDate(request) } catch let e as HubError { return html(.badRequest, Dashboard.page("Bad date", "<p>\(Dashboard.escape(e.message))</p>")) }
        let query = request.uri.queryParameters
        let sort = query["sort"].map(String.init).flatMap { key in Dashboard.columns.contains { $0.key == key } ? key : nil } ?? "name"
        let descending = query["order"].map(String.init) == "desc"
        let (national, _) = try await service.nationalReport(asOf: day)
        return html(.ok, Dashboard.national(national, sort: sort, descending: descending), cookie: user.cookie)
    }

    func dashboardMunicipality(_ request: Request, code: String) async throws -> Response {
        let user = try await dashboardUser(request)
        if let page = user.page { return page }
        let day: ISODate
        do { day = try reportDate(request) } catch let e as HubError { return html(.badRequest, Dashboard.page("Bad date", "<p>\(Dashboard.escape(e.message))</p>")) }
        guard let report = try await service.municipalityReport(code, asOf: day) else {
            return html(.notFound, Dashboard.page("Not found", "<p>The hub holds no data for municipality \(Dashboard.escape(code)).</p>"
                + "<p><a href=\"/\">← all municipalities</a></p>"))
        }
        return html(.ok, Dashboard.municipality(report), cookie: user.cookie)
    }

    func login(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 4_096)
        let form = String(buffer: body)
        var token = ""
        for pair in form.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2, kv[0] == "token" {
                token = (kv[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? kv[1])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        guard !token.isEmpty, let scope = try await service.authenticate(token) else {
            return html(.unauthorized, Dashboard.login("that token is wrong or revoked"))
        }
        guard scope == .styrgrupp else {
            return html(.forbidden, Dashboard.login("the dashboard is for the styrgrupp, not \(scope)"))
        }
        return redirect("/", cookie: HubRoutes.cookie(for: token))
    }
}
