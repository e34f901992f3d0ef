import FleetCore
import Transport

/// Profile expansion belongs to core megaplan (§10 step 2.1, §11), and core megaplan is on the
/// runner: one remote command asks its `megaplan.profiles.apply_profile_expansion` to expand
/// every milestone's (`profile`, `phase_model`) with no vendor, critic or depth flags, as the
/// reference's preflight does locally.
enum ProfileExpansion {
    /// What the runner answered.
    enum Answer: Equatable {
        /// Each milestone's phase models after expansion, in milestone order.
        case expanded([[String]])
        /// The runner's megaplan cannot expand profiles (too old, or no python3): the preflight
        /// keeps its own handling, with its warning.
        case unavailable(String)
    }

    static let resultPrefix = "MEGAPLAN-FLEET-PROFILES "

    /// Expands on the runner; a profile the runner's megaplan rejects is its error (code and
    /// message, `unknown_profile` for a name it does not know).
    static func expand(_ chain: ChainSpec, workspace: String, runner: any CommandRunner)
        async throws(FleetError)
        -> Answer
    {
        let output = try await runner.run(command(chain, workspace: workspace), stdin: nil, deadline: nil)
        return try answer(output, milestones: chain.milestones.count)
    }

    static func command(_ chain: ChainSpec, workspace: String) -> String {
        let request: JSONValue = [
            "project": .string(workspace),
            "milestones": .array(
                chain.milestones.map {
                    ["profile": .optional($0.profile), "phase_model": .strings($0.phaseModel)]
                }),
        ]
        let program = source.replacingAll("@ARGS@", with: Base64.encode(Array(request.serialized().utf8)))
        // In the workspace when it exists: project profiles live there.
        return "cd \(ShellQuote.quote(workspace)) 2>/dev/null; python3 -c \(ShellQuote.quote(program))"
    }

    static func answer(_ output: RunnerOutput, milestones: Int) throws(FleetError) -> Answer {
        guard output.status == 0,
            let line = output.stdout.split(separator: "\n").last(where: { $0.hasPrefix(resultPrefix) }),
            case .object(let object)? = try? JSONValue.parse(String(line.dropFirst(resultPrefix.count)))
        else {
            let detail = [output.stderr.trimmed, output.stdout.trimmed].first { !$0.isEmpty } ?? ""
            return .unavailable("the runner's megaplan did not answer (exit \(output.status)) \(detail)")
        }
        if object["available"] == .bool(false) {
            return .unavailable(object["reason"]?.stringValue ?? "megaplan.profiles is not available")
        }
        if let error = object["error"]?.objectValue {
            let code = error["code"]?.stringValue.flatMap { code in
                code.wholeMatch(of: /[a-z][a-z_]{0,39}/) != nil ? code : nil
            }
            throw FleetError(
                code.map(FleetError.Code.init(rawValue:)) ?? .providerFailed,
                error["message"]?.stringValue ?? "profile expansion failed on the runner")
        }
        guard let lists = object["phase_models"]?.arrayValue, lists.count == milestones else {
            return .unavailable("the runner's megaplan answered without one phase model list per milestone")
        }
        var expanded: [[String]] = []
        for list in lists {
            let items = list.arrayValue ?? []
            let strings = items.compactMap(\.stringValue)
            guard list.arrayValue != nil, strings.count == items.count else {
                return .unavailable("the runner's megaplan answered phase models that are not strings")
            }
            expanded.append(strings)
        }
        return .expanded(expanded)
    }

    private static let source = #"""
        import argparse, base64, json, os, sys
        from pathlib import Path
        a = json.loads(base64.b64decode('@ARGS@'))
        def answer(o):
            print('MEGAPLAN-FLEET-PROFILES ' + json.dumps(o))
            sys.exit(0)
        try:
            from megaplan.profiles import apply_profile_expansion
        except Exception as e:
            answer({'available': False, 'reason': '%s: %s' % (type(e).__name__, e)})
        project = Path(a['project']) if os.path.isdir(a['project']) else None
        expanded = []
        for m in a['milestones']:
            ns = argparse.Namespace(profile=m['profile'], phase_model=list(m['phase_model']), vendor=None,
                                    critic=None, depth=None, agent=None, hermes=None, _profile_applied=False)
            try:
                apply_profile_expansion(ns, project)
            except Exception as e:
                answer({'available': True, 'error': {'code': getattr(e, 'code', None),
                                                     'message': getattr(e, 'message', None) or str(e)}})
            expanded.append([str(x) for x in (ns.phase_model or [])])
        answer({'available': True, 'phase_models': expanded})
        """#
}
