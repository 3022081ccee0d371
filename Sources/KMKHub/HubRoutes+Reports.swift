import Hummingbird
import KMKModel
import KMKReplica
import KMKSync

extension HubRoutes {
    /// `?as_of=YYYY-MM-DD`, default today (UTC).
    func reportDate(_ request: Request) throws -> ISODate {
        guard let text = request.uri.queryParameters["as_of"].map(String.init), !text.isEmpty else {
            return ISODate(unixMillis: Int64(Replica.systemClock()))
        }
        guard let day = ISODate(text) else { throw HubError.badRequest("as_of=\(text) is not a date; use YYYY-MM-DD") }
        return day
    }

    func nationalReport(_ request: Request) async throws -> Response {
        let scope = try await scope(request)
        guard scope == .styrgrupp else {
            throw HubError.forbidden("the national report is for the styrgrupp; a token for \(scope) reads its own report at "
                + "/v1/reports/municipality/{code}")
        }
        let (national, _) = try await service.nationalReport(asOf: try reportDate(request))
        return json(ComplianceJSON.encode(national), request)
    }

    func municipalityReport(_ request: Request, code: String) async throws -> Response {
        let scope = try await scope(request)
        guard Municipality.byCode[code] != nil else { throw HubError.badRequest("\(code) is not a kommunkod, e.g. 0484") }
        guard scope.mayRead(municipality: code) else {
            throw HubError.forbidden("this token is for \(scope) and may not read municipality \(code)'s report")
        }
        guard let report = try await service.municipalityReport(code, asOf: try reportDate(request)) else {
            throw HubError(404, "not_found", "the hub holds no data for municipality \(code); its replicas have not pushed yet")
        }
        return json(ComplianceJSON.encode(report), request)
    }
}
