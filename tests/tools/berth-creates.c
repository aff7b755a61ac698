/* SPDX-License-Identifier: Apache-2.0 */
/*
 * berth-creates: creates the containers whose ids it reads from stdin (one a line), all calls
 * in flight at once on one connection, and prints each id the moment its Create is
 * acknowledged. crash.bats records that output while berthd is killed under it: every id printed
 * was acknowledged and must survive the crash.
 *
 *   berth-creates -a SOCK [-n NS] [--image REF] < ids
 *
 * A record as `berthctl containers create` makes it: the image, runtime io.containerd.runc.v2,
 * an empty JSON spec. Exits 0 when every create succeeded, 1 otherwise (the first errors go to
 * stderr), 2 on usage errors.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/services/containers/v1/containers.pb-c.h"
#include "client/client.h"

#define MAX_IDS 4096

static struct berth_client *client;
static const char *image = "docker.io/library/busybox:latest";
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void *create_one(void *arg)
{
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    ProtobufCMessage *resp = NULL;
    struct berth_err *err = NULL;
    char *id = arg;

    rt.name = "io.containerd.runc.v2";
    spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
    spec.value.data = (uint8_t *)"{}";
    spec.value.len = 2;
    c.id = id;
    c.image = (char *)image;
    c.runtime = &rt;
    c.spec = &spec;
    req.container = &c;
    if (berth_client_unary(
            client, "/containerd.services.containers.v1.Containers/Create", &req.base,
            &containerd__services__containers__v1__create_container_response__descriptor, &resp,
            &err) < 0) {
        pthread_mutex_lock(&out_mu);
        if (failures++ < 5)
            fprintf(stderr, "berth-creates: %s: %s\n", id, err->msg);
        pthread_mutex_unlock(&out_mu);
        berth_err_free(&err);
        return NULL;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    /* one line per acknowledgement, out before the next can be */
    pthread_mutex_lock(&out_mu);
    printf("%s\n", id);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"image", required_argument, NULL, 'i'}, {0}};
    const char *addr = NULL, *ns = "default";
    static char *ids[MAX_IDS];
    static pthread_t threads[MAX_IDS];
    struct berth_err *err = NULL;
    char line[256];
    size_t n = 0, started = 0;
    int o;

    while ((o = getopt_long(argc, argv, "a:n:", opts, NULL)) != -1) {
        if (o == 'a')
            addr = optarg;
        else if (o == 'n')
            ns = optarg;
        else if (o == 'i')
            image = optarg;
        else
            return 2;
    }
    if (!addr || optind != argc) {
        fprintf(stderr, "usage: berth-creates -a SOCK [-n NS] [--image REF] < ids\n");
        return 2;
    }
    while (n < MAX_IDS && fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (*line)
            ids[n++] = strdup(line);
    }
    /* no deadline: the client library then watches the server process itself */
    if (berth_client_open(addr, ns, 0, &client, &err) < 0) {
        fprintf(stderr, "berth-creates: %s\n", err->msg);
        berth_err_free(&err);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&threads[started], NULL, create_one, ids[i]) != 0) {
            create_one(ids[i]); /* no thread: in line */
            continue;
        }
        started++;
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    berth_client_close(client);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    return failures ? 1 : 0;
}
