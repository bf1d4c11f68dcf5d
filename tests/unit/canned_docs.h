/**
 * canned_docs.h: the canned Portainer and Docker documents of a small world
 * (environments local, kube and swarm; containers web, job, gone and two
 * Swarm replicas), shared by the poll tests (test_source.c, test_alloc.c).
 */
#ifndef PORTAINER_CANNED_DOCS_H
#define PORTAINER_CANNED_DOCS_H

/* Not every test uses every document. */
#define CANNED static const char *const __attribute__((unused))

CANNED ENDPOINTS_P1 =
    "[{\"Id\":1,\"Name\":\"local\",\"Type\":1,\"Status\":1,\"Snapshots\":[]}]";
CANNED ENDPOINTS_P2 = "[{\"Id\":5,\"Name\":\"kube\",\"Type\":5,\"Status\":1}]";
CANNED ENDPOINTS_P3 = "[{\"Id\":7,\"Name\":\"swarm\",\"Type\":2,\"Status\":1}]";
CANNED LIST_LOCAL =
    "[{\"Id\":\"aaa1\",\"Names\":[\"/web\"],\"Image\":\"nginx:1.27\","
    "\"State\":\"running\",\"Status\":\"Up 3 weeks (healthy)\"},"
    "{\"Id\":\"bbb2\",\"Names\":[\"/job\"],\"Image\":\"bb\","
    "\"State\":\"exited\",\"Status\":\"Exited (42) 3 weeks ago\"},"
    "{\"Id\":\"ccc3\",\"Names\":[\"/gone\"],\"Image\":\"bb\","
    "\"State\":\"running\",\"Status\":\"Up 1 second\"}]";
CANNED LIST_SWARM =
    "[{\"Id\":\"ddd4\",\"Names\":[\"/web\"],\"Image\":\"nginx\","
    "\"State\":\"running\",\"Status\":\"Up 3 weeks\","
    "\"Portainer\":{\"Agent\":{\"NodeName\":\"node-a\"}}},"
    "{\"Id\":\"eee5\",\"Names\":[\"/web\"],\"Image\":\"nginx\","
    "\"State\":\"running\",\"Status\":\"Up 3 weeks\","
    "\"Portainer\":{\"Agent\":{\"NodeName\":\"node-b\"}}}]";
CANNED INSPECT_WEB =
    "{\"Id\":\"aaa1\",\"RestartCount\":3,\"State\":{\"Status\":\"running\","
    "\"Running\":true,\"OOMKilled\":false,\"ExitCode\":0,"
    "\"StartedAt\":\"2026-11-22T00:00:00.123456789Z\","
    "\"FinishedAt\":\"0001-01-01T00:00:00Z\",\"Health\":{\"Status\":"
    "\"healthy\",\"FailingStreak\":0,\"Log\":[]}}}";
CANNED INSPECT_JOB =
    "{\"Id\":\"bbb2\",\"RestartCount\":0,\"State\":{\"Status\":\"exited\","
    "\"OOMKilled\":false,\"ExitCode\":42,"
    "\"StartedAt\":\"2026-11-22T00:00:00Z\","
    "\"FinishedAt\":\"2026-11-22T00:00:01Z\"}}";
CANNED INSPECT_ANY =
    "{\"RestartCount\":1,\"State\":{\"Status\":\"running\",\"ExitCode\":0,"
    "\"OOMKilled\":false,"
    "\"StartedAt\":\"2026-11-22T00:00:00Z\"}}";
CANNED GONE = "{\"message\":\"No such container: ccc3\"}";

#endif
