/**
 * Generated from the streaming-umap OpenAPI document by web/scripts/gen-types.mjs.
 * Do not edit: run `npm run gen:types`. `npm run check` fails when this file is stale.
 */

export type paths = {
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Service health, backend and workers (the status alone for a caller without a key where keys are required) */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Health"] | components["schemas"]["HealthStatus"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics: jobs by kind, backend and status, queue depth, job and stage durations, workers by state, bytes ingested */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Prometheus text format */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/plain": string;
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/cancel/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Cancel a job */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    job_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ControlResponse"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the job is in the wrong state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/cluster": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a clustering
         * @description Fewer rows than the immediate threshold are answered at once (200, job_id 'immediate'); larger inputs start a background job (202). A .npy (application/x-npy) or CSV body takes the parameters from the query string; a JSON body takes them in the body, and a query string next to it is refused (422).
         */
        post: {
            parameters: {
                query?: {
                    /** @description Default: "dbscan". */
                    algorithm?: "dbscan" | "hdbscan" | "kmeans";
                    /** @description Default: null. */
                    chunk_size?: number | null;
                    /** @description Default: 0.5. */
                    eps?: number;
                    /** @description Default: "euclidean". */
                    metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
                    /** @description Default: 5. */
                    min_cluster_size?: number;
                    /** @description Default: 5. */
                    min_samples?: number;
                    /** @description Default: 8. */
                    n_clusters?: number;
                    /** @description Default: null. */
                    random_state?: number | null;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "algorithm": "kmeans",
                     *       "data": [
                     *         [
                     *           0.1,
                     *           0.2
                     *         ],
                     *         [
                     *           0.3,
                     *           0.4
                     *         ],
                     *         [
                     *           5,
                     *           5.1
                     *         ],
                     *         [
                     *           5.2,
                     *           4.9
                     *         ]
                     *       ],
                     *       "n_clusters": 2
                     *     }
                     */
                    "application/json": components["schemas"]["ClusterRequest"];
                    "application/x-npy": string;
                    "text/csv": unknown;
                };
            };
            responses: {
                /** @description computed immediately */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description job started */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description malformed body */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description body or rows x dims over the limit (the server's or the API key's) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description queue full, or the API key's jobs or stored bytes at its quota (see Retry-After) */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no worker could answer in time */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/demo": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The built-in demo data sets */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            datasets: components["schemas"]["DemoDataSet"][];
                        };
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/demo/{name}/{kind}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a job on a demo data set
         * @description The job's parameters go in the query string, as for a .npy upload to /umap/streaming/umap or /umap/streaming/cluster.
         */
        post: {
            parameters: {
                query?: {
                    /** @description mixture only: dims */
                    dims?: number;
                    /** @description mixture only: rows */
                    rows?: number;
                };
                header?: never;
                path: {
                    kind: "umap" | "cluster";
                    name: "digits" | "mixture";
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description computed immediately */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description job started */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown data set or job kind */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description body or rows x dims over the limit (the server's or the API key's) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description queue full, or the API key's jobs or stored bytes at its quota (see Retry-After) */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no worker could answer in time */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/demo/{name}/data": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A demo data set's rows (streamed as it is made) */
        get: {
            parameters: {
                query?: {
                    /** @description mixture only: dims */
                    dims?: number;
                    /** @description mixture only: rows */
                    rows?: number;
                };
                header?: never;
                path: {
                    name: "digits" | "mixture";
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description float32 rows (or int32 labels) as .npy */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/x-npy": string;
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown data set */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description body or rows x dims over the limit (the server's or the API key's) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/demo/{name}/labels": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A demo data set's true labels: JSON {"labels": [...]}, or .npy int32 with format=npy */
        get: {
            parameters: {
                query?: {
                    /** @description mixture only: dims */
                    dims?: number;
                    format?: "json" | "npy";
                    /** @description mixture only: rows */
                    rows?: number;
                };
                header?: never;
                path: {
                    name: "digits" | "mixture";
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the labels */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            labels: number[];
                        };
                        "application/x-npy": string;
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown data set */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's active jobs (include=all adds finished ones), a page at a time */
        get: {
            parameters: {
                query?: {
                    /** @description the next_after of the previous page */
                    after?: string;
                    include?: "all";
                    /** @description jobs per page (default 100) */
                    limit?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["JobList"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's kept models, a page at a time (oldest first) */
        get: {
            parameters: {
                query?: {
                    /** @description the next_after of the previous page */
                    after?: string;
                    /** @description models per page (default 100) */
                    limit?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ModelList"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/models/{model_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One kept model */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ModelInfo"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown model */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Remove a kept model and its files */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ModelDeleted"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown model */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/models/{model_id}/clustering": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Attach a clustering to a kept model: transforms into it then label the rows they place
         * @description Attach a completed cluster job of the model's layout (rows x n_components, e.g. its result embedding clustered) or of its training rows (rows x dims): its labels are copied beside the model, and transforms into the model then label the rows they place (kmeans: the nearest centre; dbscan, hdbscan: the label of the nearest clustered training point, -1 past eps or the cluster's radius). Replaces a clustering attached before.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "job_id": "3f2c0d9e6b1a4c8f9e7d5b3a1c0e2f4d"
                     *     }
                     */
                    "application/json": components["schemas"]["ClusteringRequest"];
                };
            };
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ModelInfo"];
                    };
                };
                /** @description malformed body */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown model or job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the cluster job has not completed */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the result expired */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        /** Remove the clustering attached to a kept model */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    model_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ModelInfo"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown model */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/pause/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pause a job at its next checkpoint */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    job_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ControlResponse"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the job is in the wrong state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/result/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A completed job's result (JSON or .npy) */
        get: {
            parameters: {
                query?: {
                    format?: "json" | "npy";
                };
                header?: never;
                path: {
                    job_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ResultBody"];
                        "application/x-npy": string;
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the job is in the wrong state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the result expired */
                410: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/resume/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Resume a paused job */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    job_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ControlResponse"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the job is in the wrong state */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/status/{job_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A job's status and progress */
        get: {
            parameters: {
                query?: {
                    include_result?: boolean;
                };
                header?: never;
                path: {
                    job_id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description OK */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["JobStatus"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown job */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/transform/{model_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Place new rows into a kept model's layout
         * @description Fewer rows than the immediate threshold are answered at once (200, job_id 'immediate'); larger inputs start a background job (202). A .npy (application/x-npy) or CSV body takes the parameters from the query string; a JSON body takes them in the body, and a query string next to it is refused (422). The rows must have the model's number of columns. The answer, or the completed job's result (kind transform), holds their positions in the model's layout; when a clustering is attached to the model, also their labels (-1 = noise) and n_clusters.
         */
        post: {
            parameters: {
                query?: {
                    /** @description Default: null. */
                    chunk_size?: number | null;
                };
                header?: never;
                path: {
                    model_id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         [
                     *           0.1,
                     *           0.2
                     *         ],
                     *         [
                     *           0.3,
                     *           0.4
                     *         ]
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["TransformRequest"];
                    "application/x-npy": string;
                    "text/csv": unknown;
                };
            };
            responses: {
                /** @description computed immediately */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description job started */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description malformed body */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unknown model */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the model is still being fitted */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description body or rows x dims over the limit (the server's or the API key's) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description queue full, or the API key's jobs or stored bytes at its quota (see Retry-After) */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no worker could answer in time */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/umap/streaming/umap": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a UMAP layout
         * @description Fewer rows than the immediate threshold are answered at once (200, job_id 'immediate'); larger inputs start a background job (202). A .npy (application/x-npy) or CSV body takes the parameters from the query string; a JSON body takes them in the body, and a query string next to it is refused (422), except keep_model and init_from, which may be given in either place. keep_model=true keeps the fitted layout as a model: the answer's model_id (of a job: once it has completed) is what /umap/streaming/transform/{model_id} places new rows into. init_from=MODEL_ID refits on data whose first rows are that model's training rows.
         */
        post: {
            parameters: {
                query?: {
                    /** @description Default: null. */
                    chunk_size?: number | null;
                    /** @description Default: null. */
                    fit_sample_rows?: number | null;
                    /** @description Default: null. */
                    init_from?: string | null;
                    /** @description Default: false. */
                    keep_model?: boolean;
                    /** @description Default: "euclidean". */
                    metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
                    /** @description Default: 0.1. */
                    min_dist?: number;
                    /** @description Default: 2. */
                    n_components?: number;
                    /** @description Default: null. */
                    n_epochs?: number | null;
                    /** @description Default: 15. */
                    n_neighbors?: number;
                    /** @description Default: null. */
                    random_state?: number | null;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "data": [
                     *         [
                     *           0.1,
                     *           0.2
                     *         ],
                     *         [
                     *           0.3,
                     *           0.4
                     *         ]
                     *       ],
                     *       "n_components": 2
                     *     }
                     */
                    "application/json": components["schemas"]["UMAPRequest"];
                    "application/x-npy": string;
                    "text/csv": unknown;
                };
            };
            responses: {
                /** @description computed immediately */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description job started */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["SubmitResponse"];
                    };
                };
                /** @description malformed body */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no API key, or not a valid one, where the server requires keys (WWW-Authenticate: Bearer) */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description a cross-site request: a foreign Origin */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description init_from: unknown model */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description init_from: the model is still being fitted */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description body or rows x dims over the limit (the server's or the API key's) */
                413: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description unsupported Content-Type (text/plain and form types on any state change) */
                415: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description invalid field or value */
                422: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description queue full, or the API key's jobs or stored bytes at its quota (see Retry-After) */
                429: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description no worker could answer in time */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
                /** @description the server's disk is full (nothing was kept) */
                507: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["ErrorBody"];
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
};
export type webhooks = Record<string, never>;
export type components = {
    schemas: {
        /**
         * AckFrame
         * @description The answer to a :class:`ClientAction` (``ok`` false: ``message`` says why).
         */
        AckFrame: {
            /** @enum {unknown} */
            action: "cancel" | "pause" | "resume";
            current_chunk: number;
            estimated_completion: number | null;
            eta_seconds: number | null;
            job_id: string;
            message: string;
            /** @default null */
            model_id?: string | null;
            ok: boolean;
            processed_points: number;
            processing_time: number;
            progress_percentage: number;
            seq: number;
            stage: string;
            /** @enum {unknown} */
            status: "cancelled" | "cancelling" | "completed" | "failed" | "paused" | "pending" | "processing";
            total_chunks: number;
            total_points: number;
            /** @enum {unknown} */
            type: "ack";
            /** @default null */
            waiting_for?: string | null;
        };
        /**
         * ClientAction
         * @description A client-to-server WebSocket message.
         */
        ClientAction: {
            /** @enum {unknown} */
            action: "cancel" | "pause" | "resume";
        };
        /**
         * ClusteringRequest
         * @description JSON body of ``POST /umap/streaming/models/{model_id}/clustering``.
         */
        ClusteringRequest: {
            /** @description a completed cluster job of the model's layout (its rows x n_components) or of its training rows (rows x dims) */
            job_id: string;
        };
        /**
         * ClusterParams
         * @description Clustering parameters (everything but the data).
         */
        ClusterParams: {
            /**
             * @default dbscan
             * @enum {unknown}
             */
            algorithm?: "dbscan" | "hdbscan" | "kmeans";
            /** @default null */
            chunk_size?: number | null;
            /** @default 0.5 */
            eps?: number;
            /**
             * @default euclidean
             * @enum {unknown}
             */
            metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
            /** @default 5 */
            min_cluster_size?: number;
            /** @default 5 */
            min_samples?: number;
            /** @default 8 */
            n_clusters?: number;
            /** @default null */
            random_state?: number | null;
        };
        /**
         * ClusterRequest
         * @description JSON body of ``POST /umap/streaming/cluster``.
         */
        ClusterRequest: {
            /**
             * @default dbscan
             * @enum {unknown}
             */
            algorithm?: "dbscan" | "hdbscan" | "kmeans";
            /** @default null */
            chunk_size?: number | null;
            data: number[][];
            /** @default 0.5 */
            eps?: number;
            /**
             * @default euclidean
             * @enum {unknown}
             */
            metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
            /** @default 5 */
            min_cluster_size?: number;
            /** @default 5 */
            min_samples?: number;
            /** @default 8 */
            n_clusters?: number;
            /** @default null */
            random_state?: number | null;
        };
        /** ControlResponse */
        ControlResponse: {
            job_id: string;
            message: string;
            /** @enum {unknown} */
            status: "cancelled" | "cancelling" | "completed" | "failed" | "paused" | "pending" | "processing";
        };
        /**
         * DemoDataSet
         * @description One entry of ``GET /umap/streaming/demo``.
         */
        DemoDataSet: {
            classes: number;
            description: string;
            dims: number;
            name: string;
            rows: number;
        };
        /** ErrorBody */
        ErrorBody: {
            detail: string;
            /** @default null */
            field?: string | null;
            /** @default null */
            row?: number | null;
        };
        /**
         * ErrorFrame
         * @description A problem with the socket itself: an unknown job (then close code 4404), a
         *     subscriber too slow to keep up (then 1008), or a client message that is not a
         *     :class:`ClientAction` (the socket stays open).
         */
        ErrorFrame: {
            /** @default null */
            job_id?: string | null;
            message: string;
            /** @enum {unknown} */
            type: "error";
        };
        /**
         * Frame
         * @description A job's state as a WebSocket frame (server to client). The socket also sends
         *     :class:`AckFrame`, :class:`ErrorFrame` and :class:`LayoutHeaderFrame`. Documented in
         *     docs/API.md.
         */
        Frame: {
            current_chunk: number;
            estimated_completion: number | null;
            eta_seconds: number | null;
            job_id: string;
            /** @default null */
            model_id?: string | null;
            processed_points: number;
            processing_time: number;
            progress_percentage: number;
            seq: number;
            stage: string;
            /** @enum {unknown} */
            status: "cancelled" | "cancelling" | "completed" | "failed" | "paused" | "pending" | "processing";
            timestamp: number;
            total_chunks: number;
            total_points: number;
            /** @enum {unknown} */
            type: "cancelled" | "completed" | "failed" | "paused" | "progress" | "resumed" | "snapshot";
            /** @default null */
            waiting_for?: string | null;
        };
        /**
         * Health
         * @description ``status``: ``warming`` until a job worker is warm (jobs wait in the queue until
         *     then), ``ok``, or ``degraded`` when workers keep dying. ``executor``: what runs the
         *     jobs (``local`` worker processes, or ``dask``). ``auth``: whether API keys are
         *     required; ``warning``: set when authentication is off on an address others can reach.
         *     ``processes`` (pids, the job each runs) is shown to admin keys only (and to every
         *     caller where keys are not required).
         */
        Health: {
            active_jobs: number;
            /** @enum {unknown} */
            auth: "off" | "required";
            backend: string;
            device: string;
            executor: string;
            /** @default null */
            gpu?: Record<string, unknown> | null;
            max_queue: number;
            /** @default [] */
            processes?: Record<string, unknown>[];
            queue_depth: number;
            /** @default null */
            scheduler?: Record<string, unknown> | null;
            /** @enum {unknown} */
            status: "degraded" | "ok" | "warming";
            uptime_seconds: number;
            version: string;
            /** @default null */
            warmup?: Record<string, unknown> | null;
            /** @default null */
            warning?: string | null;
            workers: components["schemas"]["WorkerCounts"];
        };
        /**
         * HealthStatus
         * @description ``/health`` for a caller without a key where keys are required: the status alone,
         *     and that a key is needed for more.
         */
        HealthStatus: {
            /** @enum {unknown} */
            auth: "off" | "required";
            /** @enum {unknown} */
            status: "degraded" | "ok" | "warming";
        };
        /**
         * JobList
         * @description One page of jobs, oldest first: ``count`` on this page, ``total`` in all; pass
         *     ``next_after`` as ``after`` for the next page (null on the last).
         */
        JobList: {
            count: number;
            jobs: components["schemas"]["JobStatus"][];
            /** @default null */
            next_after?: string | null;
            total: number;
        };
        /** JobStatus */
        JobStatus: {
            created_at: number;
            current_chunk: number;
            /** @default null */
            epoch?: number | null;
            error: string | null;
            estimated_completion: number | null;
            eta_seconds: number | null;
            finished_at: number | null;
            job_id: string;
            /** @enum {unknown} */
            kind: "cluster" | "transform" | "umap";
            /** @default null */
            model_id?: string | null;
            params: Record<string, unknown>;
            processed_points: number;
            processing_time: number;
            progress_percentage: number;
            result: Record<string, unknown> | null;
            /** @default false */
            result_expired?: boolean;
            stage: string;
            started_at: number | null;
            /** @enum {unknown} */
            status: "cancelled" | "cancelling" | "completed" | "failed" | "paused" | "pending" | "processing";
            total_chunks: number;
            /** @default null */
            total_epochs?: number | null;
            total_points: number;
            /** @default null */
            waiting_for?: string | null;
            warning: string | null;
            /** @default null */
            worker?: string | null;
        };
        /**
         * LayoutHeaderFrame
         * @description Sent with ``?live=1``: announces the binary frame that follows it, ``rows`` x
         *     ``n_components`` little-endian float32 (``bytes`` long), the layout after ``epoch``.
         */
        LayoutHeaderFrame: {
            bytes: number;
            epoch: number;
            job_id: string;
            n_components: number;
            rows: number;
            /** @enum {unknown} */
            type: "layout";
        };
        /**
         * ModelClustering
         * @description The clustering attached to a kept model: transforms into it label the rows they
         *     place (``labels``, -1 = noise).
         */
        ModelClustering: {
            /** @enum {unknown} */
            algorithm: "dbscan" | "hdbscan" | "kmeans";
            job_id: string;
            n_clusters: number;
            params: Record<string, unknown>;
            /** @default null */
            radius?: number | number[] | null;
            /** @enum {unknown} */
            space: "layout" | "rows";
        };
        /** ModelDeleted */
        ModelDeleted: {
            message: string;
            model_id: string;
        };
        /**
         * ModelInfo
         * @description A kept model: a fitted layout stored as plain arrays (training rows, embedding) and
         *     parameters, into which new rows can be placed on any backend.
         */
        ModelInfo: {
            a: number;
            b: number;
            backend: string;
            /** @default null */
            clustering?: components["schemas"]["ModelClustering"] | null;
            created_at: number;
            dims: number;
            expires_at: number;
            job_id: string | null;
            last_used_at: number;
            metric: string;
            model_id: string;
            n_components: number;
            n_neighbors: number;
            params: Record<string, unknown>;
            rows: number;
            size_bytes: number;
            versions: {
                [key: string]: string;
            };
        };
        /**
         * ModelList
         * @description One page of models, oldest first (like :class:`JobList`).
         */
        ModelList: {
            count: number;
            models: components["schemas"]["ModelInfo"][];
            /** @default null */
            next_after?: string | null;
            total: number;
        };
        /** ResultBody */
        ResultBody: {
            /** @default null */
            centers?: number[][] | null;
            /** @default null */
            embeddings?: number[][] | null;
            job_id: string;
            /** @enum {unknown} */
            kind: "cluster" | "transform" | "umap";
            /** @default null */
            labels?: number[] | null;
            /** @default null */
            n_clusters?: number | null;
            /** @default null */
            noise_points?: number | null;
        };
        /** SubmitResponse */
        SubmitResponse: {
            /** @default null */
            centers?: number[][] | null;
            /** @default null */
            embeddings?: number[][] | null;
            estimated_chunks: number;
            job_id: string;
            /** @default null */
            labels?: number[] | null;
            message: string;
            /** @default null */
            model_id?: string | null;
            /** @default null */
            n_clusters?: number | null;
            /** @default null */
            noise_points?: number | null;
            /** @default null */
            processing_time?: number | null;
            /** @enum {unknown} */
            status: "completed" | "started";
            /** @default null */
            status_url?: string | null;
            total_points: number;
            /** @default null */
            warning?: string | null;
            /** @default null */
            ws_url?: string | null;
        };
        /**
         * TransformParams
         * @description Placing new rows into a model's layout (everything but the data; the model is the
         *     path's ``model_id``).
         */
        TransformParams: {
            /** @default null */
            chunk_size?: number | null;
        };
        /**
         * TransformRequest
         * @description JSON body of ``POST /umap/streaming/transform/{model_id}``.
         */
        TransformRequest: {
            /** @default null */
            chunk_size?: number | null;
            data: number[][];
        };
        /**
         * UMAPParams
         * @description UMAP parameters (everything but the data).
         */
        UMAPParams: {
            /** @default null */
            chunk_size?: number | null;
            /** @default null */
            fit_sample_rows?: number | null;
            /**
             * @description refit starting from this model: the data's first rows must be the model's training rows in the same order; they start at their old positions, the new rows where the model places them, so old points move little
             * @default null
             */
            init_from?: string | null;
            /**
             * @description keep the fitted layout as a model (its id is the answer's model_id), into which POST /umap/streaming/transform/{model_id} places new rows
             * @default false
             */
            keep_model?: boolean;
            /**
             * @default euclidean
             * @enum {unknown}
             */
            metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
            /** @default 0.1 */
            min_dist?: number;
            /** @default 2 */
            n_components?: number;
            /** @default null */
            n_epochs?: number | null;
            /** @default 15 */
            n_neighbors?: number;
            /** @default null */
            random_state?: number | null;
        };
        /**
         * UMAPRequest
         * @description JSON body of ``POST /umap/streaming/umap``.
         */
        UMAPRequest: {
            /** @default null */
            chunk_size?: number | null;
            data: number[][];
            /** @default null */
            fit_sample_rows?: number | null;
            /**
             * @description refit starting from this model: the data's first rows must be the model's training rows in the same order; they start at their old positions, the new rows where the model places them, so old points move little
             * @default null
             */
            init_from?: string | null;
            /**
             * @description keep the fitted layout as a model (its id is the answer's model_id), into which POST /umap/streaming/transform/{model_id} places new rows
             * @default false
             */
            keep_model?: boolean;
            /**
             * @default euclidean
             * @enum {unknown}
             */
            metric?: "chebyshev" | "correlation" | "cosine" | "euclidean" | "manhattan";
            /** @default 0.1 */
            min_dist?: number;
            /** @default 2 */
            n_components?: number;
            /** @default null */
            n_epochs?: number | null;
            /** @default 15 */
            n_neighbors?: number;
            /** @default null */
            random_state?: number | null;
        };
        /** WorkerCounts */
        WorkerCounts: {
            alive: number;
            busy: number;
            idle: number;
            immediate: number;
            total: number;
            warming: number;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
};
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
