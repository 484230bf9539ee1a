import { getApp } from '../compose';
import { apiHandler } from './http/lambda';

/** Lambda entry point of the HTTP API (API Gateway HTTP API, IAM or JWT authorization), composed at cold start. */
export const handler = apiHandler(getApp());
