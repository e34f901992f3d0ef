import Testing

@testable import FleetCore

@Suite struct IdeaFilesTests {
    /// Cloud reference §3.4, the four examples (root `/repo`, W `/workspace/app`).
    @Test(arguments: [
        (
            "/repo/ideas", "/workspace/app/ideas/foundation.txt",
            ["/repo/ideas/ideas/foundation.txt", "/repo/ideas/foundation.txt"]
        ),
        (
            "/repo/ideas", "/opt/external.txt",
            ["/repo/ideas/opt/external.txt", "/repo/opt/external.txt", "/repo/ideas/external.txt"]
        ),
        (
            "/repo/docs/cloud/ideas", "docs/cloud/ideas/foundation.md",
            ["/repo/docs/cloud/ideas/docs/cloud/ideas/foundation.md", "/repo/docs/cloud/ideas/foundation.md"]
        ),
        ("/elsewhere/ideas", "ideas/m1.md", ["/elsewhere/ideas/ideas/m1.md", "/repo/ideas/m1.md"]),
    ])
    func referenceExamples(_ ideaDirectory: String, _ idea: String, _ expected: [String]) {
        #expect(
            IdeaFiles.candidates(
                idea: idea, workspace: "/workspace/app", ideaDirectory: ideaDirectory, root: "/repo")
                == expected)
    }

    @Test func ideaEqualToWorkspace() {
        #expect(
            IdeaFiles.candidates(
                idea: "/workspace/app", workspace: "/workspace/app", ideaDirectory: "/repo/ideas",
                root: "/repo")
                == ["/repo/ideas", "/repo", "/repo/ideas/app"])  // step 4: absolute, not under `W/`
    }

    @Test func firstExistingCandidateWins() throws {
        let found = try IdeaFiles.locate(
            label: "m1", idea: "/opt/external.txt", workspace: "/workspace/app", ideaDirectory: "/repo/ideas",
            root: "/repo", exists: { $0 == "/repo/opt/external.txt" || $0 == "/repo/ideas/external.txt" })
        #expect(found == "/repo/opt/external.txt")
    }

    @Test func locateOnDisk() throws {
        let dir = TempDir()
        dir.write("ideas/m1.md", "idea")
        let found = try IdeaFiles.locate(
            label: "m1", idea: "ideas/m1.md", workspace: "/workspace/app",
            ideaDirectory: dir.path + "/nowhere",
            root: dir.path)
        #expect(found == dir.path + "/ideas/m1.md")
        // Any entry counts, a directory too (it fails later, at upload).
        _ = dir.makeDirectory("ideas/dir.md")
        let directory = try IdeaFiles.locate(
            label: "d", idea: "ideas/dir.md", workspace: "/workspace/app", ideaDirectory: dir.path,
            root: dir.path)
        #expect(directory == dir.path + "/ideas/dir.md")
    }

    @Test func missingIdeaFileError() {
        let error = failure {
            try IdeaFiles.locate(
                label: "foundation", idea: "/opt/external.txt", workspace: "/workspace/app",
                ideaDirectory: "/repo/ideas", root: "/repo", exists: { _ in false })
        }
        let tried = ["/repo/ideas/opt/external.txt", "/repo/opt/external.txt", "/repo/ideas/external.txt"]
        #expect(
            error
                == FleetError(
                    .missingIdeaFile,
                    """
                    milestone 'foundation' idea not found on disk. Tried:
                    - /repo/ideas/opt/external.txt
                    - /repo/opt/external.txt
                    - /repo/ideas/external.txt
                    Invoke from the repository root or adjust --idea-dir to the directory containing chain ideas.
                    """,
                    extra: ["milestone": "foundation", "tried_paths": .strings(tried)]))
        #expect(
            error?.envelope.objectValue?.keys == ["success", "error", "message", "milestone", "tried_paths"])
    }

    @Test func labelIsQuotedLiterallyNotRepr() {
        let error = failure {
            try IdeaFiles.locate(
                label: "it's", idea: "a.md", workspace: "/w", ideaDirectory: "/d", root: "/r",
                exists: { _ in false })
        }
        #expect(error?.message.hasPrefix("milestone 'it's' idea not found on disk. Tried:\n") == true)
    }
}

@Suite struct ProjectRootTests {
    @Test func gitTopWithMegaplanWins() {
        let dir = TempDir()
        _ = dir.makeDirectory("repo/.git")
        _ = dir.makeDirectory("repo/.megaplan")
        _ = dir.makeDirectory("repo/sub/.megaplan")
        let start = dir.makeDirectory("repo/sub/deeper")
        #expect(ProjectRoot.find(from: start) == dir.path + "/repo")
    }

    @Test func nearestMegaplanWhenGitTopHasNone() {
        let dir = TempDir()
        dir.write("repo/.git", "gitdir: elsewhere\n")  // `.git` may be a file
        _ = dir.makeDirectory("repo/sub/.megaplan")
        let start = dir.makeDirectory("repo/sub/deeper")
        #expect(ProjectRoot.find(from: start) == dir.path + "/repo/sub")
    }

    @Test func currentDirectoryOtherwise() {
        let dir = TempDir()
        let start = dir.makeDirectory("plain/dir")
        #expect(ProjectRoot.find(from: start) == start)
    }
}
