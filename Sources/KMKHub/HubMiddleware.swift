import Foundation
import HTTPTypes
import Hummingbird
import KMKModel
import KMKReplica
import KMKSync
import Logging
import NIOCore

/// Wraps every request: turns errors into JSON error bodies, counts the request in the metrics and logs one line at info.
struct HubMiddleware<Context: RequestContext>: RouterMiddleware {
    let service: HubService
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, request: request, logger: context.logger)
        }
        response.headers[.kmkHub] = service.hubID
        response.headers[.kmkSchema] = String(service.schemaVersion)
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let route = HubRoutes.knownPaths.contains(request.uri.path) ? request.uri.path : "other"
        await metrics.request(method: request.method.rawValue, route: route, status: response.status.code, seconds: seconds)
        context.logger.info("\(request.method.rawValue) \(request.uri.path) \(response.status.code) \(Int(seconds * 1000))ms")
        return response
    }

    private func errorResponse(_ error: any Error, request: Request, logger: Logger) -> Response {
        let e: HubError
        switch error {
        case let h as HubError: e = h
        case let r as ReplicaError:
            switch r.kind {
            case .permission: e = .forbidden(r.message)
            case .busy: e = HubError(503, "busy", r.message + "; retry later")
            case .invalidData, .refused: e = .badRequest(r.message)
            default:
                logger.error("store error: \(r.message)")
                e = HubError(500, "internal", "the hub failed: \(r.message)")
            }
        case let s as SyncError:
            e = s.kind == .tooLarge ? .tooLarge(s.message) : .badRequest(s.message)
        case let c as ClockError:
            e = HubError(422, "clock_ahead", c.description + "; fix the clock of that replica's machine and push again")
        case is NIOTooManyBytesError:
            e = .tooLarge("the body is bigger than this hub takes; send smaller batches (see max_batch_bytes in GET /v1/health)")
        case let h as HTTPError:
            e = HubError(Int(h.status.code), h.status.code == 404 ? "not_found" : "http",
                         h.body ?? (h.status.code == 404 ? "no such endpoint: \(request.method.rawValue) \(request.uri.path)" : h.status.reasonPhrase))
        default:
            logger.error("unexpected error: \(String(describing: error))")
            e = HubError(500, "internal", "the hub failed unexpectedly: \(error)")
        }
        let body = WireError(status: e.status, code: e.code, message: e.message, hub: service.hubID,
                             schema: service.schemaVersion, expectedBatch: e.expectedBatch).json()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if e.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: HTTPResponse.Status(code: e.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

extension HTTPField.Name {
    /// Every response names the hub and its schema version.
    static let kmkHub = HTTPField.Name("KMK-Hub")!
    static let kmkSchema = HTTPField.Name("KMK-Schema")!
}
